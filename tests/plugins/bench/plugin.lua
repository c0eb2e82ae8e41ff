-- bench: measures what the plugin layer costs (scripts/portal bench). Its route renders the
-- same page as the core's GET / (template "home", same data), so the two targets differ only
-- by the trip through Lua; its hook does nothing, so tests/bench/hookbench.c times the call.
return {
  id = "bench",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "性能测试", en = "benchmark" },
  routes = {
    { method = "GET", path = "/home", handler = function(req)
        return { template = "home", data = { title = "首页", year = tonumber(portal.time.date("%Y")) },
                 headers = { ["Cache-Control"] = "no-cache" } }
      end },
  },
  hooks = {
    checkin = function(payload) return nil end,
  },
}
