-- hog: a test plugin that holds its memory near its cap (issue 12). The host pushes data into
-- a plugin's state before the plugin's code runs (a request, a hook payload); with the state
-- full, that push runs out of memory, which once aborted the whole worker and left
-- registrations saved but answered 502. tests/integration/plugins_containment.test.mjs fills
-- it on every worker, then registers residents (its registration.after_save hook cannot even
-- be handed its payload) and posts to its route; the workers must live, the registrations
-- must be 201 and saved. A push that does not fit is not counted as the plugin hitting its
-- cap, so hog stays on and full until a reload. Harmless until /fill is called. Never install
-- it on a real site.

-- Fill the state: a chain of small tables, biggest strings first, so that no single big
-- allocation (a growing array) stops the filling early. Every call keeps its request table
-- and tops the state up again: what a call leaves as garbage (its request above all) would
-- otherwise make room for the next one. A few hundred bytes are given back, enough to answer
-- this request, not enough for the host to hand the next one (or a hook payload) over.
local function fill(req)
  hog = { keep = req, next = hog }
  if not filled then
    filled = true
    local n = 0
    for _, size in ipairs({ 1000000, 100000, 10000, 1000, 100, 10 }) do
      pcall(function()
        while true do
          n = n + 1
          hog = { s = ("h"):rep(size) .. n, next = hog }
        end
      end)
    end
  end
  pcall(function()
    while true do hog = { next = hog } end
  end)
  for _ = 1, 3 do
    hog = hog.next
  end
end

return {
  id = "hog",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "内存占满测试插件", en = "Memory hog test plugin" },
  description = "Fills its memory on request; for the integration tests only.",
  requires = { core = ">=0.1" },
  routes = {
    -- fill this worker's state and keep it full
    { method = "GET", path = "/fill", api = true, handler = function(req)
        fill(req)
        return { json = { full = true } }
      end },
    -- a public JSON route: with the state full, the request itself cannot be handed over
    { method = "POST", path = "/echo", api = true, handler = function(req)
        return { json = { ok = true } }
      end },
    { method = "GET", path = "/free", api = true, handler = function(req)
        hog, filled = nil, nil
        return { json = { freed = true } }
      end },
  },
  hooks = {
    ["registration.after_save"] = function(payload)
      return nil
    end,
  },
}
