-- hostile: a test plugin that tries every escape of the sandbox checklist
-- (../shared/design/PLUGINS.md) and reports what happened. It exists for
-- tests/integration/plugins_sandbox.test.mjs, which asserts that each attempt
-- is contained; the test instance serves it beside the shipped plugins. Never
-- install it on a real site.
--
-- Every route is an API route (JSON), public, GET, under /api/p/hostile/...,
-- except /p/hostile/page_loop (an HTML page) and the POST routes /echo (public)
-- and /staff_echo (staff) of issue 12. Routes named after an attack
-- either report { ok = false, err = "..." } per attempt (the attempt failed)
-- or are expected to end in a clean 500 (loops, bombs, bad return values).

local probe = require("probe")   -- the plugin's own file: this must work

-- At load time, in this plugin's own state: a global and a patched string
-- method. The friendly plugin's /ping shows it sees neither.
hostile_global = "set by hostile"
string.upper = function() return "PWNED BY HOSTILE" end

local function explode(where)
  error("hostile-deliberate-error in " .. where)
end

local function api(path, handler)
  return { method = "GET", path = path, api = true, handler = handler }
end

local routes = {
  -- checklist 2, 3: what the environment offers
  api("/env", function(req)
    return { json = {
      io = type(io), package = type(package), debug = type(debug),
      load = type(load), loadfile = type(loadfile), dofile = type(dofile),
      loadstring = type(loadstring), collectgarbage = type(collectgarbage),
      rawset = type(rawset), rawget = type(rawget),
      string_dump = type(string.dump), dump_method = type(("x").dump),
      os_execute = type(os.execute), os_getenv = type(os.getenv),
      os_exit = type(os.exit), os_remove = type(os.remove),
      os_keys = probe.keys(os),
      string_metatable = type(getmetatable("")),
      globals = probe.keys(_G),
      require_os = probe.try(require, "os"),
      require_io = probe.try(require, "io"),
      require_debug = probe.try(require, "debug"),
      require_passwd = probe.try(require, "../../etc/passwd"),
      require_dotdot = probe.try(require, "a..b"),
      require_absolute = probe.try(require, "/etc/passwd"),
      require_bytecode = probe.try(require, "bytecode"),
      require_own = require("probe").name,
      gc_metatable = probe.try(setmetatable, {}, { __gc = function() end }),
      upper = ("x"):upper(),
    } }
  end),

  -- checklist 5: CPU. Each of these must end in a clean 500 after the budget.
  api("/loop", function(req)
    while true do end
  end),
  api("/pcall_loop", function(req)
    while true do
      pcall(function() while true do end end)
    end
  end),
  api("/xpcall_loop", function(req)
    while true do
      xpcall(function() while true do end end, function() while true do end end)
    end
  end),
  api("/coroutine_loop", function(req)
    local co = coroutine.wrap(function()
      while true do pcall(function() while true do end end) end
    end)
    while true do pcall(co) end
  end),
  api("/pattern_bomb", function(req)
    -- exponential backtracking inside one C call, where the count hook never fires
    return { json = { found = string.find(("a"):rep(60), ("a?"):rep(40) .. ("a"):rep(40) .. "b") } }
  end),
  api("/table_bomb", function(req)
    -- 1e15 iterations inside table.move (C)
    table.move({}, 1, 1e15, 2)
    return { json = { moved = true } }
  end),
  api("/repbomb", function(req)
    return { json = {
      rep = probe.try(string.rep, "x", 1e9),
      method = probe.try(function() return ("x"):rep(1e9) end),
      separator = probe.try(string.rep, "x", 1e4, ("y"):rep(1e3)),
      empty = #string.rep("", math.maxinteger),
    } }
  end),

  -- checklist 6: memory
  api("/membomb", function(req)
    -- 4 MB strings (string.rep stops at 1 MB, concatenation does not): the
    -- 32 MB cap comes long before the CPU budget, even under the sanitizers
    local s = ("x"):rep(1e6)
    s = s .. s .. s .. s
    local t = {}
    for i = 1, 1e9 do
      t[i] = s .. i
    end
    return { json = { n = #t } }
  end),

  -- errors and bad results: a clean 500, logged with the plugin id
  api("/error", function(req)
    explode("route /error")
  end),
  api("/raw_html", function(req)
    return "<script>alert('hostile')</script>"
  end),
  api("/bad_json", function(req)
    return { json = { f = function() end } }
  end),
  api("/text_html", function(req)
    return { text = "<script>alert('hostile')</script>", content_type = "text/html; charset=utf-8" }
  end),
  api("/redirect_evil", function(req)
    return { redirect = "https://evil.example/" }
  end),
  api("/redirect_evil2", function(req)
    return { redirect = "//evil.example/" }
  end),
  api("/redirect_evil3", function(req)
    return { redirect = "/\\evil.example/" }
  end),
  api("/header_inject", function(req)
    return {
      json = { ok = true },
      headers = {
        ["Cache-Control"] = "no-store\r\nSet-Cookie: hostile=1",
        ["Content-Disposition"] = "attachment\r\nX-Hostile: 1",
      },
    }
  end),
  -- a table whose fields the host reads after the call: __index raises / loops
  api("/meta_return", function(req)
    return setmetatable({}, { __index = function() error("hostile-meta-error") end })
  end),
  api("/meta_loop", function(req)
    return setmetatable({}, { __index = function() while true do end end })
  end),

  -- checklist 4: host tables and the request are read-only
  api("/write_host", function(req)
    local attempts = {
      db = probe.try(function() portal.db = nil end),
      db_find = probe.try(function() portal.db.find = function() return {} end end),
      config = probe.try(function() portal.config.greeting = "hacked" end),
      config_new = probe.try(function() portal.config.x = 1 end),
      plugin_id = probe.try(function() portal.plugin.id = "friendly" end),
      log = probe.try(function() portal.log.info = print end),
      setmetatable = probe.try(setmetatable, portal, {}),
      rawset = probe.try(function() rawset(portal, "db", nil) end),
      table_insert = probe.try(table.insert, portal.db, 1),
      string_metatable = probe.try(function() getmetatable("").__index = {} end),
      string_setmetatable = probe.try(setmetatable, "", {}),
      request = probe.try(function() req.method = "DELETE" end),
      request_query = probe.try(function() req.query.x = "1" end),
    }
    local writable = probe.writable(portal, "portal")
    probe.writable(req, "req", writable)
    return { json = {
      attempts = attempts,
      writable_count = #writable,
      writable = table.concat(writable, ","),
      db_type = type(portal.db),
      find_type = type(portal.db.find),
      greeting = portal.config.greeting,
      plugin_id = portal.plugin.id,
      method = req.method,
    } }
  end),

  -- checklist 7: secrets. Everything reachable from the plugin's globals, and
  -- whatever every host function says when called with odd arguments.
  api("/secrets", function(req)
    local corpus = probe.strings(_G, 6)
    local argsets = { {}, { "notes" }, { "notes", {} }, { "users", {} }, { 1 }, { {} }, { "x", "y", "z" } }
    local calls = 0
    for _, f in ipairs(probe.functions(portal, "portal")) do
      for _, args in ipairs(argsets) do
        local r = table.pack(pcall(f.fn, table.unpack(args)))
        for i = 2, r.n do
          if type(r[i]) == "string" then
            corpus[#corpus + 1] = probe.text(r[i])
          elseif type(r[i]) == "table" then
            probe.strings(r[i], 4, corpus)
          end
        end
        calls = calls + 1
      end
    end
    return { json = {
      config_keys = probe.keys(portal.config),
      getenv = type(os.getenv),
      user = portal.user() ~= nil,
      users = probe.try(portal.db.find, "users", {}),
      sessions = probe.try(portal.db.find, "sessions", {}),
      query = probe.try(portal.db.query, "no_such_query", {}),
      calls = calls,
      corpus = table.concat(corpus, "\n"),
    } }
  end),

  -- tables that are not the plugin's own
  api("/other_table", function(req)
    return { json = {
      users = probe.try(portal.db.find, "users", {}),
      sessions = probe.try(portal.db.count, "sessions", {}),
      other_plugin = probe.try(portal.db.find, "p_friendly_notes", {}),
      own_real_name = probe.try(portal.db.find, "p_hostile_notes", {}),
      placeholder = probe.try(portal.db.find, "{users}", {}),
      injected_name = probe.try(portal.db.find, "notes; DROP TABLE users", {}),
      delete_users = probe.try(portal.db.delete, "users", portal.db.ALL),
      insert_users = probe.try(portal.db.insert, "users", { username = "hostile" }),
    } }
  end),

  -- SQL injection through names and options; values are bound
  api("/sql", function(req)
    local id = portal.db.insert("notes", { body = "hostile note" })
    return { json = {
      legit_id = id,
      legit = #portal.db.find("notes", { id = id }),
      bound = #portal.db.find("notes", { body = "' OR '1'='1" }),
      where_key = probe.try(portal.db.find, "notes", { ["id = 1 OR 1"] = 1 }),
      where_key2 = probe.try(portal.db.find, "notes", { ["1=1) OR (1"] = 1 }),
      op = probe.try(portal.db.find, "notes", { id = { "OR 1=1 --", 1 } }),
      order_by = probe.try(portal.db.find, "notes", {}, { order_by = "id; DROP TABLE p_hostile_notes" }),
      order_sub = probe.try(portal.db.find, "notes", {}, { order_by = "(SELECT password FROM users)" }),
      limit = probe.try(portal.db.find, "notes", {}, { limit = "1; DROP TABLE users" }),
      column = probe.try(portal.db.insert, "notes", { ["body) VALUES ('x'); DROP TABLE users; --"] = "x" }),
      update_all = probe.try(portal.db.update, "notes", {}, { body = "x" }),
    } }
  end),

  -- print() of odd values and of a 1 MB string goes to the log, truncated
  api("/print", function(req)
    print(nil, {}, function() end, "hostile-print-marker")
    print(("x"):rep(1e6))
    return { json = { printed = true } }
  end),

  -- an HTML page route that loops: the HTML error page, not JSON
  { method = "GET", path = "/page_loop", handler = function(req) while true do end end },

  -- issue 12 (tests/integration/plugins_containment.test.mjs) ------------------------

  -- a public JSON route and a staff one: a body that does not fit in the plugin's memory
  -- (1 MB of nested arrays is about 36 MB of Lua tables) is a 413, never a dead worker
  { method = "POST", path = "/echo", api = true, handler = function(req)
      return { json = { ok = true, items = type(req.json) == "table" and #req.json or 0 } }
    end },
  { method = "POST", path = "/staff_echo", api = true, roles = { "staff", "admin" }, handler = function(req)
      return { json = { ok = true, items = type(req.json) == "table" and #req.json or 0 } }
    end },

  -- the log budget: an endless print loop, and a million portal.log lines
  api("/print_flood", function(req)
    while true do print("hostile-flood-line") end
  end),
  api("/log_flood", function(req)
    for i = 1, 1e6 do portal.log.info("hostile-log-flood") end
    return { json = { done = true } }
  end),

  -- an open redirect: wherever the query says
  api("/redirect", function(req)
    return { redirect = req.query.to }
  end),

  -- plugin SQL without a bound in time: four self-joins (the check accepts them: every join
  -- has a condition) over the rows of migrations/0002_rows.sql. The database stops them
  -- when the call's budget is up, also when the plugin catches the error.
  api("/slow_sql", function(req)
    return { json = { n = portal.db.query("slow", {})[1].n } }
  end),
  api("/slow_sql_pcall", function(req)
    local ok, err = pcall(portal.db.query, "slow", {})
    local n = 0
    while true do n = n + 1 end            -- must not get here: the budget is spent
  end),
}

return {
  id = "hostile",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "恶意测试插件", en = "Hostile test plugin" },
  description = "Tries every sandbox escape; for the integration tests only.",
  requires = { core = ">=0.1" },
  config = {
    greeting = { type = "text", default = "hello", label = "问候语" },
  },
  tables = {
    notes = { columns = { "body" } },
  },
  queries = {
    slow = "SELECT COUNT(*) AS n FROM {notes} a JOIN {notes} b ON a.body <> b.body"
        .. " JOIN {notes} c ON b.body <> c.body JOIN {notes} d ON c.body <> d.body",
  },
  routes = routes,
  hooks = {
    -- runs before the friendly plugin's hook and raises: the friendly one
    -- must still run, and the error is logged with this plugin's id
    { name = "hourly", before = { "friendly" }, handler = function(payload)
      explode("hook hourly")
    end },
  },
  jobs = {
    { name = "spin", every = "hourly", handler = function()
      while true do end
    end },
  },
}
