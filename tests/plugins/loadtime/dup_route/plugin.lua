-- dup_route: two routes for one method and path (the second could never answer; a plugin
-- author who thinks it does is wrong about which handler guards the page). Refused.
return {
  id = "dup_route", version = "1.0.0", api_version = 1,
  title = { zh = "重复路由", en = "Duplicate routes" },
  routes = {
    { method = "GET", path = "/days/{id}", roles = { "staff" }, handler = function(req)
        return { json = { guarded = true } }
      end },
    { method = "GET", path = "/days/{day}", handler = function(req)
        return { json = { guarded = false } }
      end },
  },
}
