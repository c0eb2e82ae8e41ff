-- escape: an ordinary plugin whose folder the test fills with links to the instance's
-- portal.conf (database and migration passwords), one at a time: a template, a migration, a
-- lib module, demo.json, a static file, a test. Every one of them must stop it from loading.
return {
  id = "escape", version = "1.0.0", api_version = 1,
  title = { zh = "链接逃逸", en = "Link escape" },
  routes = {
    { method = "GET", path = "/", handler = function(req)
        return { template = "escape_page", data = { title = "页面" } }
      end },
    { method = "GET", path = "/conf", handler = function(req)
        return { template = "escape_conf", data = { title = "配置" } }
      end },
    { method = "GET", path = "/lib", api = true, handler = function(req)
        return { json = { lib = require("lib.conf") } }
      end },
  },
}
