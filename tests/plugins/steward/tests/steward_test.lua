-- portald plugin test tests/plugins/steward: settings, grants and accounts in the real host.
-- Note: portal.accounts writes to the real users and audit_log tables of the database the
-- test runs against, so every username here is unique to the run.

local run = tostring(portal.time.now() % 100000000) .. tostring(math.random(100, 999))

T.test("settings are the manifest's defaults until changed", function()
  local r = T.request{ path = "/config", api = true }
  T.eq(r.status, 200)
  T.eq(r.json.capacity, 40)
  T.eq(r.json.greeting, "欢迎")
  T.eq(r.json.remind, true)
end)

T.test("T.config sets values for the rest of the run, checked like the settings page", function()
  T.config{ capacity = 12, remind = false }
  local r = T.request{ path = "/config", api = true }
  T.eq(r.json.capacity, 12)
  T.eq(r.json.remind, false)
  T.eq(portal.config.capacity, 12, "portal.config in a test body")
  T.fails(function() T.config{ capacity = 0 } end, "名额：不能小于 1")
  T.fails(function() T.config{ capacity = "many" } end, "请填写整数")
  T.fails(function() T.config{ greeting = string.rep("长", 21) } end, "最多 20 个字")
  T.fails(function() T.config{ colour = "red" } end, "no setting")
  T.eq(portal.config.capacity, 12, "a refused value changes nothing")
end)

T.test("a route with grant refuses staff without the grant and admits staff with it", function()
  local r = T.request{ path = "/health", api = true, user = { roles = { "staff" } } }
  T.eq(r.status, 403)
  T.eq(r.json.error.code, "forbidden")
  T.eq(r.json.error.message, "您没有查看此内容的权限。")
  r = T.request{ path = "/health", api = true, user = { roles = { "staff" }, grants = { "health" } } }
  T.eq(r.status, 200)
  T.eq(r.json.health, true)
  T.eq(r.json.notes, false)
  r = T.request{ path = "/health", api = true, user = { roles = { "volunteer" }, grants = { "health" } } }
  T.eq(r.status, 403, "the grant does not replace the role")
  T.eq(T.request{ path = "/health", api = true }.status, 401)
end)

T.test("has_grant raises for a name the plugin did not declare", function()
  T.fails(function() portal.has_grant("outreach.health") end, "declares no grant")
  T.fails(function() portal.has_grant("nothing") end, "declares no grant")
  T.eq(portal.has_grant("health"), false, "outside a request nobody holds it")
  T.fails(function() T.request{ path = "/whoami", api = true, user = { roles = { "staff" }, grants = { "x" } } } end,
          "declares no grant")
end)

T.test("accounts.create gives a volunteer account with a one-time password", function()
  local name = "stw" .. run .. "a"
  local acc = portal.accounts.create{ username = name, display_name = "王芳", role = "volunteer" }
  T.ok(acc.id > 0)
  T.eq(acc.username, name)
  T.match(acc.password, "^[%w]+$")
  T.eq(#acc.password, 12)
  local got = portal.accounts.get(acc.id)
  T.eq(got.display_name, "王芳")
  T.eq(#got.roles, 1)
  T.eq(got.roles[1], "volunteer")
  T.eq(got.disabled, false)
  local again, why = portal.accounts.create{ username = name, display_name = "李四", role = "volunteer" }
  T.eq(again, nil)
  T.eq(why, "taken")
  portal.accounts.set_disabled(acc.id, true)
  T.eq(portal.accounts.get(acc.id).disabled, true)
  portal.accounts.set_disabled(acc.id, false)
  T.eq(portal.accounts.get(acc.id).disabled, false)
  T.eq(portal.accounts.get(2147483000), nil)
end)

T.test("accounts.create refuses every role but volunteer", function()
  for _, role in ipairs{ "staff", "admin", "grid", "approver" } do
    T.fails(function()
      portal.accounts.create{ username = "stw" .. run .. role, display_name = "某人", role = role }
    end, "role must be \"volunteer\"")
  end
  T.fails(function() portal.accounts.create{ username = "stw" .. run .. "n", display_name = "某人" } end, "volunteer")
  T.fails(function() portal.accounts.create{ username = "Bad Name", display_name = "某人", role = "volunteer" } end,
          "username")
  T.fails(function() portal.accounts.create{ username = "stw" .. run .. "d", display_name = "", role = "volunteer" } end,
          "display_name")
end)

T.test("an account made inside a failed transaction does not stay", function()
  local name = "stw" .. run .. "r"
  local r = T.request{ method = "POST", path = "/volunteers/rollback", api = true, user = { roles = { "staff" } },
                       form = { username = name, display_name = "回滚" } }
  T.eq(r.status, 200)
  T.eq(r.json.ok, false)
  local acc = portal.accounts.create{ username = name, display_name = "回滚", role = "volunteer" }
  T.ok(acc, "the name is free again: the first insert was rolled back")
end)
