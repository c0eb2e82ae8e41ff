-- pairs: a test plugin for the host API of events, registration keys, files, text/CSV and
-- portal.db outside a request. Its kind "pair_day" registers a couple: the registrant and a
-- partner's phone; registration.keys makes "one registration per couple" a database rule.
-- Staff routes expose what portal.events, portal.text and portal.csv return, so the
-- integration test (tests/integration/plugins_host_b.test.mjs) can check them through nginx.
local db = portal.db

local function pair_key(a, b)
  if b < a then a, b = b, a end
  return "couple:" .. a .. ":" .. b
end

-- a call that may raise, as JSON: { ok = true, value = ... } or { ok = false, error = "..." }
local function try(fn, ...)
  local ok, v = pcall(fn, ...)
  if ok then return { json = { ok = true, value = v } } end
  return { json = { ok = false, error = tostring(v) } }
end

return {
  id = "pairs",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "夫妇同报（测试）", en = "pairs (test plugin)" },
  tables = { seen = { columns = { "what", "detail" } } },
  forms = {
    pair = { fields = {
      { name = "partner", type = "phone", label = "配偶手机号", required = true },
    } },
  },
  event_kinds = {
    { id = "pair_day", title = { zh = "夫妇同报日", en = "couples' day" }, form = "pair", retention_days = 30 },
  },
  hooks = {
    ["registration.keys"] = function(p)
      if p.kind ~= "pair_day" then return nil end
      if p.name == "钥匙出错" then error("the keys hook failed on purpose") end
      return { { key = pair_key(p.phone, p.answers.partner), message = "这对夫妇本轮已经报名。" } }
    end,
  },
  jobs = {
    { name = "tally", every = "daily", handler = function()
        local n = #portal.events.list{}
        db.insert("seen", { what = "daily_job", detail = tostring(n) })
      end },
  },
  routes = {
    { method = "GET", path = "/events", api = true, roles = { "staff", "admin" }, handler = function(req)
        local q = req.query
        return try(portal.events.list, { kind = q.kind, from = q.from, to = q.to, status = q.status,
                                         all_kinds = q.all_kinds == "1" })
      end },
    { method = "GET", path = "/events/{id}", api = true, roles = { "staff", "admin" }, handler = function(req)
        return try(portal.events.get, tonumber(req.params.id))
      end },
    { method = "GET", path = "/events/{id}/registrations", api = true, roles = { "staff", "admin" },
      handler = function(req)
        return try(portal.events.registrations, tonumber(req.params.id),
                   { status = req.query.status, slot_id = tonumber(req.query.slot_id) })
      end },
    { method = "GET", path = "/registration/{code}", api = true, roles = { "staff", "admin" }, handler = function(req)
        return try(portal.events.registration, req.params.code)
      end },
    -- an upload: a CSV file in GBK (as spreadsheets in China save it) decoded and parsed
    { method = "POST", path = "/import", api = true, roles = { "staff", "admin" }, handler = function(req)
        local f = req.files and req.files.file
        if not f then return { status = 400, error = "请选择文件。" } end
        local text, err, off = portal.text.decode(f.data, req.form.encoding or "gbk")
        if not text then return { status = 422, json = { error = err, offset = off } } end
        local rows, msg, line = portal.csv.parse(text)
        if not rows then return { status = 422, json = { error = msg, line = line } } end
        return { json = { filename = f.filename, content_type = f.content_type, size = f.size, rows = rows,
                          lines = msg } }
      end },
    -- a public route: uploads are never handed to it
    { method = "POST", path = "/public-upload", handler = function(req)
        return { text = req.files == nil and "no files" or "files!" }
      end },
    { method = "POST", path = "/export", api = true, roles = { "staff", "admin" }, handler = function(req)
        return { text = portal.csv.encode(req.json.rows), content_type = "text/csv; charset=utf-8" }
      end },
    -- demo data (plugins/*/demo.json requests come here with the admin demo token)
    { method = "POST", path = "/demo", api = true, roles = { "admin" }, handler = function(req)
        db.insert("seen", { what = "demo", detail = req.json.detail })
        return { status = 201, json = { ok = true } }
      end },
    { method = "GET", path = "/seen", api = true, roles = { "staff", "admin" }, handler = function(req)
        return { json = db.find("seen", { what = req.query.what }, { order_by = "id" }) }
      end },
  },
}
