-- friendly: a well-behaved test plugin served beside tests/plugins/hostile.
-- tests/integration/plugins_sandbox.test.mjs asks it for /ping while the
-- hostile plugin loops, bombs and raises, to show that other plugins keep
-- working and share nothing with it (globals, string methods). Its hourly
-- hook and job log a line each, to show that the hostile plugin's failing
-- hook and endless job do not stop them. Never install it on a real site.

return {
  id = "friendly",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "友好测试插件", en = "Friendly test plugin" },
  description = "Answers /ping; for the integration tests only.",
  requires = { core = ">=0.1" },
  routes = {
    { method = "GET", path = "/ping", api = true, handler = function(req)
      pings = (pings or 0) + 1
      return { json = {
        ok = true,
        plugin = portal.plugin.id,
        upper = ("x"):upper(),              -- "X": hostile patched only its own string.upper
        hostile_global = type(hostile_global), -- "nil": no globals shared between plugins
        pings = pings,                       -- this worker's count, in this plugin's own state
      } }
    end },
  },
  hooks = {
    hourly = function(payload)
      portal.log.info("friendly hourly hook ran")
    end,
  },
  jobs = {
    { name = "tick", every = "hourly", handler = function()
      portal.log.info("friendly hourly job ran")
    end },
  },
}
