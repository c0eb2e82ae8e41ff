-- portald plugin test tests/plugins/bystander
T.test("without the accounts permission portal.accounts raises", function()
  T.fails(function()
    portal.accounts.create{ username = "bystander1", display_name = "某人", role = "volunteer" }
  end, "did not ask for the \"accounts\" permission")
  T.fails(function() portal.accounts.get(1) end, "did not ask for the \"accounts\" permission")
  T.fails(function() portal.accounts.set_disabled(1, true) end, "did not ask for the \"accounts\" permission")
end)

T.test("another plugin's grant cannot be asked about", function()
  T.fails(function() portal.has_grant("steward.health") end, "declares no grant")
  local r = T.request{ path = "/try", api = true, user = { roles = { "staff" } } }
  T.eq(r.status, 200)
  T.match(r.json.accounts, "accounts\" permission")
  T.match(r.json.grant, "declares no grant")
end)
