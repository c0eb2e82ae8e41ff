-- bystander: a test plugin that asked for no permissions and declares no grants. It shows
-- that portal.accounts and other plugins' grants are out of its reach.
local portal = portal

local function err_of(fn, ...)
  local ok, e = pcall(fn, ...)
  return ok and "no error" or tostring(e)
end

return {
  id = "bystander",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "旁观者（测试）", en = "Bystander (test)" },
  routes = {
    { path = "/try", api = true, roles = { "staff", "admin" }, handler = function()
        return { json = {
          accounts = err_of(portal.accounts.create, { username = "bystander1", display_name = "某人", role = "volunteer" }),
          get = err_of(portal.accounts.get, 1),
          grant = err_of(portal.has_grant, "steward.health"),
        } }
      end },
  },
}
