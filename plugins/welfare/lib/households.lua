-- lib/households.lua - the households (住户名单) and their import from the office's
-- spreadsheet: the staff pages and the JSON API. An upload is checked first and stored
-- for confirmation only when every row is good; the confirmation writes all rows or none
-- (lib/importer.lua).
local db = portal.db
local util = require("lib.util")
local importer = require("lib.importer")
local views = require("lib.views")
local params = require("lib.params")
local refuse = require("lib.refusal").refuse

local M = {}

local function import_page(status, data)
  data = data or {}
  data.title = "导入住户"
  data.error_count = data.errors and #data.errors or 0
  data.encodings = { { value = "auto", label = "自动识别", checked = (data.encoding or "auto") == "auto" },
                     { value = "utf-8", label = "UTF-8", checked = data.encoding == "utf-8" },
                     { value = "gbk", label = "GBK（Excel默认的“CSV（逗号分隔）”）", checked = data.encoding == "gbk" } }
  return { status = status or 200, template = "welfare_import", data = data }
end

-- Check an upload (or JSON text); store it for confirmation when every row is good.
local function preview(bytes, encoding, me)
  local res, err = importer.check(bytes, encoding)
  if not res then
    return { file_error = err, errors = {}, rows = {} }
  end
  local out = { errors = res.errors, rows = {}, count = #res.rows }
  for i, h in ipairs(res.rows) do
    if i <= 200 then
      local v = views.household(h)
      v.line = h.line
      out.rows[#out.rows + 1] = v
    end
  end
  out.more = #res.rows > 200 and (#res.rows - 200) or nil
  if #res.errors == 0 then
    out.import_id = db.insert("imports", { rows_json = portal.json.encode(res.rows),
      row_count = #res.rows, status = "pending", created_by = me.username, created_at = util.now() })
  end
  portal.audit("households.import_check", "welfare_import", tostring(out.import_id or 0),
               { rows = #res.rows, errors = #res.errors })
  return out
end

local function confirm_import(import_id, me)
  local imp = db.get("imports", import_id)
  if not imp or imp.created_by ~= me.username or imp.status ~= "pending" then
    return nil, "这次导入已经失效（已导入过或不是您上传的），请重新上传文件。"
  end
  local rows = portal.json.decode(imp.rows_json)
  local n, err = importer.commit(rows, me.username)
  if not n then
    db.update("imports", { id = import_id }, { status = "failed" })
    return nil, err
  end
  db.update("imports", { id = import_id }, { status = "done" })
  portal.audit("households.import", "welfare_import", tostring(import_id), { rows = n })
  return n
end

-- Pages -----------------------------------------------------------------------------------

-- GET /households: the latest households, or those matching ?q=.
function M.list(req)
  local q = req.query.q or ""
  local rows = {}
  local list
  if q ~= "" then
    list = views.search(q)
  else
    list = db.find("households", {}, { order_by = "id desc", limit = 200 })
  end
  for _, h in ipairs(list) do
    rows[#rows + 1] = views.household(h)
  end
  portal.audit("households.view", "welfare_households", q ~= "" and "search" or "recent", { rows = #rows })
  return { template = "welfare_households", data = { title = "住户名单", rows = rows, q = q,
           total = db.count("households", {}), imported = req.query.imported or "" } }
end

-- GET /households/import: the upload form.
function M.import_form()
  return import_page()
end

-- POST /households/import: check the uploaded file and show every row (and every problem).
function M.import_upload(req)
  local f = req.files and req.files.file
  if not f or f.size == 0 then
    return import_page(422, { file_error = "请选择要导入的CSV文件。", errors = {}, rows = {} })
  end
  local enc = req.form.encoding
  if enc ~= "utf-8" and enc ~= "gbk" then enc = "auto" end
  local p = preview(f.data, enc, util.me())
  p.encoding, p.filename = enc, f.filename
  return import_page((p.file_error or #p.errors > 0) and 422 or 200, p)
end

-- POST /households/import/{id}/confirm: write the checked file.
function M.import_confirm(req)
  local n, err = confirm_import(params.id(req.params.id) or 0, util.me())
  if not n then
    return import_page(409, { file_error = err, errors = {}, rows = {} })
  end
  return { redirect = "/p/welfare/households?imported=" .. n }
end

-- JSON API (staff tokens) -------------------------------------------------------------------

-- GET /api/p/welfare/households?q=
function M.api_list(req)
  local rows = {}
  for _, h in ipairs(views.search(req.query.q)) do
    rows[#rows + 1] = views.household(h)
  end
  portal.audit("households.view", "welfare_households", "search", { rows = #rows })
  return { json = { households = rows, total = db.count("households", {}) } }
end

-- POST /api/p/welfare/households: one household.
function M.api_add(req)
  local id, problems = importer.add_one(params.body(req), util.me().username)
  if not id then
    refuse(table.concat(problems, ""), 422, "invalid")
  end
  return { status = 201, json = { id = id } }
end

-- POST /api/p/welfare/households/import {csv = "text", confirm = true}: check (and with
-- confirm, import) a CSV given as text. A file with problems is answered with the rows'
-- problems in the JSON, as the import page lists them.
function M.api_import(req)
  local j = params.body(req)
  if type(j.csv) ~= "string" then
    refuse("请提供CSV内容（csv）。", 422, "invalid")
  end
  local me = util.me()
  local p = preview(j.csv, "utf-8", me)
  if p.file_error or #p.errors > 0 then
    local errs = {}
    for _, e in ipairs(p.errors) do errs[#errs + 1] = e end
    return { status = 422, json = { ok = false, file_error = p.file_error, errors = errs, imported = 0 } }
  end
  if j.confirm == true then
    local n, err = confirm_import(p.import_id, me)
    if not n then
      return { status = 409, json = { ok = false, file_error = err, errors = {}, imported = 0 } }
    end
    return { json = { ok = true, imported = n, errors = {} } }
  end
  return { json = { ok = true, import_id = p.import_id, count = p.count, errors = {} } }
end

return M
