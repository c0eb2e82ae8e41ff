-- steward: a test plugin for the host's settings, grants and volunteer accounts
-- (docs/plugins.md: config, grants, the "accounts" permission). Used by its own tests
-- (portald plugin test tests/plugins/steward) and by
-- tests/integration/plugins_settings_grants.test.mjs through nginx.
local portal = portal

local function volunteer_json(id)
  local a = portal.accounts.get(id)
  if not a then return { status = 404, json = { error = "none" } } end
  return { json = a }
end

return {
  id = "steward",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "志愿者管家（测试）", en = "Steward (test)" },
  description = "测试插件：设置、用户权限和志愿者账号。",
  permissions = { "accounts" },

  config = {
    capacity = { type = "number", default = 40, label = "名额", min = 1, max = 500 },
    greeting = { type = "text", default = "欢迎", label = "欢迎语", max_len = 20 },
    remind = { type = "yesno", default = true, label = "活动前一天提醒" },
  },

  grants = {
    health = { zh = "查看健康敏感信息", en = "See health data" },
    notes = "查看走访备注",
  },

  routes = {
    -- what portal.config says now (the integration test watches it change without a reload)
    { path = "/config", api = true, handler = function()
        return { json = { capacity = portal.config.capacity, greeting = portal.config.greeting,
                          remind = portal.config.remind } }
      end },
    -- staff with the grant "health" only
    { path = "/health", api = true, roles = { "staff", "admin" }, grant = "health", handler = function()
        return { json = { health = portal.has_grant("health"), notes = portal.has_grant("notes") } }
      end },
    { path = "/health-page", roles = { "staff", "admin" }, grant = "health", handler = function()
        return { text = "health data" }
      end },
    { path = "/whoami", api = true, roles = { "staff", "admin", "volunteer" }, handler = function()
        return { json = { health = portal.has_grant("health"), notes = portal.has_grant("notes") } }
      end },
    -- a volunteer's page: a one-time password must be changed before it opens
    { path = "/shift", roles = { "volunteer" }, handler = function()
        return { text = "your shifts" }
      end },
    -- volunteer accounts (the route's roles say who may make them)
    { method = "POST", path = "/volunteers", api = true, roles = { "staff", "admin" }, handler = function(req)
        local j = req.json or {}
        local acc, err = portal.accounts.create{ username = j.username, display_name = j.display_name,
                                                 role = j.role }
        if not acc then return { status = 409, json = { error = err } } end
        return { status = 201, json = acc }
      end },
    -- the same inside a transaction that fails afterwards: nothing may stay
    { method = "POST", path = "/volunteers/rollback", api = true, roles = { "staff", "admin" }, handler = function(req)
        local j = req.json or req.form
        local ok, e = pcall(portal.db.transaction, function()
          portal.accounts.create{ username = j.username, display_name = j.display_name, role = "volunteer" }
          error("something after the account failed")
        end)
        return { json = { ok = ok, error = tostring(e) } }
      end },
    { path = "/volunteers/{id}", api = true, roles = { "staff", "admin" }, handler = function(req)
        return volunteer_json(math.tointeger(tonumber(req.params.id)))
      end },
    { method = "POST", path = "/volunteers/{id}/disabled", api = true, roles = { "staff", "admin" },
      handler = function(req)
        local id = math.tointeger(tonumber(req.params.id))
        local ok, e = pcall(portal.accounts.set_disabled, id, (req.json or {}).disabled == true)
        if not ok then return { status = 422, json = { error = tostring(e) } } end
        return volunteer_json(id)
      end },
  },
}
