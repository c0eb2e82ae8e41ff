-- welfare: holiday welfare distribution (节日慰问, 米面油).
-- Households (imported from the office's spreadsheet), campaigns with items and stock,
-- allocation rules as data, a recipient list drawn up by staff and approved by a second
-- person, the hand-out desk with one receipt per household, printed signature sheets, the
-- receipts CSV and a summary. README.md says what each page is for.
local portal = portal
local db = portal.db
local util = require("lib.util")
local cats = require("lib.cats")
local rules = require("lib.rules")
local importer = require("lib.importer")
local campaign = require("lib.campaign")
local views = require("lib.views")

local STAFF = { "staff", "admin" }
local DELIVERERS = { "grid", "volunteer", "staff", "admin" }

local function id_of(s)
  local n = tonumber(s)
  return (n and n == math.floor(n) and n > 0 and n < 2 ^ 31) and math.tointeger(n) or nil
end

-- The campaign of {id} in the path, or an error response.
local function load(req)
  local cid = id_of(req.params.id)
  local c = cid and campaign.get(cid)
  if not c then
    return nil, { status = 404, error = "找不到这次发放活动。", code = "not_found" }
  end
  return c
end

local function refused(e)
  return { status = e.status, error = e.message, code = e.code }
end

local function is_approver()
  return portal.has_role("approver")
end

-- ---------------------------------------------------------------- pages

local function home(req)
  local list = {}
  for _, c in ipairs(db.find("campaigns", {}, { order_by = "id desc", limit = 50 })) do
    list[#list + 1] = views.campaign(c)
  end
  return { template = "welfare_home", data = { title = "节日慰问发放", campaigns = list,
           households = db.count("households", {}) } }
end

local function households_page(req)
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

local function new_campaign_page(status, values, errors)
  local v = values or {}
  local chosen = {}
  for _, c in ipairs(v.categories or { "gugua", "shidu", "dibao", "canji" }) do
    chosen[c] = true
  end
  local clist = {}
  for _, c in ipairs(cats.LIST) do
    clist[#clist + 1] = { value = c[1], label = c[2], checked = chosen[c[1]] or false }
  end
  return { status = status or 200, template = "welfare_campaign_new", data = {
    title = "新建发放活动", v = {
      name = v.name or "", starts_on = v.starts_on or "", ends_on = v.ends_on or "",
      notice_from = v.notice_from or "", notice_to = v.notice_to or "",
      items_text = v.items_text or "大米,100,袋\n食用油,100,桶\n面粉,40,袋",
      rules_text = v.rules_text or "全部: 大米=1, 食用油=1\n3人以上: 面粉=1",
    }, categories = clist, errors = errors or {}, has_errors = errors and next(errors) ~= nil } }
end

local function campaign_page(req, c, notice, status)
  local items = campaign.items(c.id)
  local st = campaign.check(c.id)
  local list = views.list(c, items, { removed = true })
  local changes = {}
  local change_rows = db.find("changes", { campaign_id = c.id }, { order_by = "id desc", limit = 100 })
  local changed = util.households_of(change_rows)
  for _, ch in ipairs(change_rows) do
    local h = ch.household_id and changed[ch.household_id]
    changes[#changes + 1] = { action = ({ create = "新建", draft = "生成名单", add = "加入名单",
      remove = "移出名单", approve = "审批通过", close = "结束发放" })[ch.action] or ch.action,
      household = h and h.head_name or "", reason = ch.reason, by_user = ch.by_user, at = ch.done_at }
  end
  local grids = {}
  local seen = {}
  for _, r in ipairs(list) do
    if not seen[r.grid] then
      seen[r.grid] = true
      grids[#grids + 1] = { grid = r.grid, label = r.grid ~= "" and r.grid or "未填网格" }
    end
  end
  local me = util.me()
  portal.audit("list.view", "welfare_campaign", tostring(c.id), { rows = #list })
  return { status = status or 200, template = "welfare_campaign", data = {
    title = c.name, c = views.campaign(c), stock = st.items, consistent = st.consistent,
    rows = list, count = #list, changes = changes, grids = grids, notice = notice or req.query.msg or "",
    can_approve = c.status == "draft" and is_approver() and c.drafted_by ~= nil and c.drafted_by ~= me.username,
    is_staff = portal.has_role("staff") or portal.has_role("admin"),
    has_notice = c.notice_from ~= nil,
  } }
end

-- What the desk's success message names after a receipt (?done=<household id>): the head's
-- masked name and the address, only when that household did receive in this campaign.
local function done_household(c, done)
  local hid = id_of(done)
  if not hid or db.count("receipts", { campaign_id = c.id, household_id = hid }) == 0 then
    return false
  end
  local h = db.get("households", hid)
  return h and { head_name = portal.mask.name(h.head_name), address = h.address } or false
end

local function desk_page(req, c, opts)
  opts = opts or {}
  local q = opts.q or req.query.q or ""
  local items = campaign.items(c.id)
  local me = util.me()
  local results = {}
  local grid_only = opts.deliver and me.roles.grid and not me.roles.staff and not me.roles.admin
  local found = views.search(q)
  if opts.deliver and q == "" and (grid_only or me.roles.staff or me.roles.admin) then
    -- the delivery page lists what is still to be taken out: a grid worker sees the own
    -- grid; a volunteer only finds the household they are standing at (search)
    found = {}
    local waiting = util.find_all("recipients", { campaign_id = c.id, status = "listed" })
    local households = util.households_of(waiting)
    for _, r in ipairs(waiting) do
      local h = households[r.household_id]
      if h and (not grid_only or h.grid == me.grid) and #found < 200 then
        found[#found + 1] = h
      end
    end
  end
  for _, h in ipairs(found) do
    if not grid_only or h.grid == me.grid then
      results[#results + 1] = views.standing(c, items, h)
    end
  end
  if q ~= "" or opts.deliver then
    portal.audit(opts.deliver and "deliver.view" or "desk.search", "welfare_campaign", tostring(c.id),
                 { rows = #results })
  end
  return { status = opts.status or 200, template = "welfare_desk", data = {
    title = (opts.deliver and "送上门登记：" or "发放窗口：") .. c.name, c = views.campaign(c),
    q = q, results = results, searched = q ~= "", error = opts.error or "",
    done = done_household(c, opts.done), deliver = opts.deliver or false,
    action = opts.deliver and "deliver" or "desk",
    stock = campaign.check(c.id).items,
  } }
end

-- The printable signature sheet (签收表) of one grid or building, or of the whole list.
local function sheet_page(req, c)
  local items = campaign.items(c.id)
  local filter = {}
  local grid, building = req.query.grid, req.query.building
  if grid and grid ~= "" then filter.grid = grid end
  if building and building ~= "" then filter.building = building end
  local rows = views.list(c, items, filter)
  portal.audit("sheet.print", "welfare_campaign", tostring(c.id), { rows = #rows, grid = grid, building = building })
  local scope = (filter.grid and ("网格 " .. filter.grid) or "") .. (filter.building and (" 楼栋 " .. filter.building) or "")
  return { template = "welfare_sheet", data = { title = "签收表", c = views.campaign(c), rows = rows,
           scope = scope ~= "" and scope or "全部", count = #rows, printed_at = util.now():sub(1, 16) } }
end

local function receipts_csv(c)
  local items = campaign.items(c.id)
  local rows = { { "户主", "地址", "楼栋", "网格", "手机尾号", "领取方式", "代领人", "代领人证件尾号",
                   "签名", "物品", "经办人", "领取时间" } }
  local receipts = util.find_all("receipts", { campaign_id = c.id })
  local households = util.households_of(receipts)
  for _, rc in ipairs(receipts) do
    local h = households[rc.household_id] or {}
    rows[#rows + 1] = { h.head_name or "", h.address or "", h.building or "", h.grid or "",
      views.tail4(h.phone), campaign.MODES[rc.mode] or rc.mode, rc.proxy_name or "", rc.proxy_id_tail or "",
      campaign.SIGN_MODES[rc.sign_mode] or rc.sign_mode, rules.describe(util.decode_alloc(rc.alloc_json), items),
      rc.recorded_name, rc.received_at }
  end
  portal.audit("receipts.export", "welfare_campaign", tostring(c.id), { rows = #rows - 1 })
  return { text = portal.csv.encode(rows), content_type = "text/csv; charset=utf-8",
           headers = { ["Content-Disposition"] = string.format('attachment; filename="welfare-%d-receipts.csv"', c.id) } }
end

-- The public notice (公示) during the posting period: names masked, the building only.
local function notice_page(req)
  local cid = id_of(req.params.id)
  local c = cid and campaign.get(cid)
  local today = portal.time.today()
  if not c or c.status == "draft" or not c.notice_from or today < c.notice_from or today > c.notice_to then
    return { status = 404, error = "没有正在公示的名单。", code = "not_found" }
  end
  local rows = {}
  for _, r in ipairs(views.list(c, campaign.items(c.id))) do
    rows[#rows + 1] = { name = portal.mask.name(r.head_name), building = r.building }
  end
  return { template = "welfare_notice", data = { title = c.name .. " 慰问对象公示", name = c.name,
           notice_from = c.notice_from, notice_to = c.notice_to, rows = rows, count = #rows } }
end

-- Receipt form fields (desk page and API alike).
local function receipt_input(src)
  return { mode = src.mode, proxy_name = src.proxy_name, proxy_id_tail = src.proxy_id_tail,
           sign_mode = src.sign_mode, signature = src.signature }
end

-- The new-campaign page's form as campaign.create's input.
local function campaign_input_from_form(req)
  local f = req.form
  -- categories come as repeated check boxes: validate() sees them all (req.form only the
  -- first); a value that is not a category comes back for create() to name it
  local ok, values = portal.form.validate("campaign_cats")
  local chosen = ok and values.categories or { f.categories }
  return {
    name = f.name, starts_on = f.starts_on, ends_on = f.ends_on, notice_from = f.notice_from,
    notice_to = f.notice_to, categories = chosen,
    items = campaign.items_from_text(f.items_text), rules_text = f.rules_text,
    items_text = f.items_text,
  }
end

-- A page POST running one campaign operation, then back to the campaign page.
local function page_op(fn)
  return function(req)
    local c, e = load(req)
    if not c then return e end
    local _, err = util.run(fn, c, req, util.me())
    if err then
      return campaign_page(req, campaign.get(c.id), err.message, err.status)
    end
    return { redirect = string.format("/p/welfare/campaigns/%d?msg=%s", c.id, util.urlencode("已保存。")) }
  end
end

-- What an API POST sent: its JSON object (no page of this plugin posts to the API; a
-- signed-in browser's fetch sends the CSRF token in X-CSRF-Token).
local function body(req)
  return type(req.json) == "table" and req.json or {}
end

-- An API POST running one campaign operation; answers the stock after it.
local function api_op(fn, status)
  return function(req)
    local c, e = load(req)
    if not c then return e end
    local res, err = util.run(fn, c, body(req), util.me())
    if err then
      return refused(err)
    end
    local st = campaign.check(c.id)
    return { status = status or 200, json = { result = res, stock = st.items, consistent = st.consistent,
             status = campaign.get(c.id).status } }
  end
end

local function household_id(src)
  return id_of(src.household_id) or util.refuse("请指定住户。", 422, "invalid")
end

return {
  id = "welfare",
  version = "1.0.0",
  api_version = 1,
  title = { zh = "节日慰问发放", en = "Holiday welfare distribution" },
  description = "节日慰问米面油：住户名单、发放规则、名单审批、窗口发放签收、库存核对和汇总。",
  requires = { core = ">=0.1" },
  permissions = { "audit" },

  config = {
    -- a form value is at most max_field_len (64 KB by default) anyway; a signature pad of a
    -- phone's width gives 5 to 30 KB
    signature_max_kb = { type = "number", default = 48, min = 4, max = 64,
                         label = "屏幕签名图片的大小上限（KB）" },
  },

  tables = {
    households = { columns = { "head_name", "members", "address", "building", "grid", "phone",
                               "categories", "note", "created_by", "created_at" } },
    campaigns = { columns = { "name", "starts_on", "ends_on", "notice_from", "notice_to", "categories",
                              "rules_text", "rules_json", "status", "created_by", "created_at",
                              "drafted_by", "drafted_at", "approved_by", "approved_at", "closed_by",
                              "closed_at", "draft_cursor" } },
    items = { columns = { "campaign_id", "code", "name", "unit", "received", "handed_out", "set_aside" } },
    recipients = { columns = { "campaign_id", "household_id", "alloc_json", "status", "updated_at" } },
    receipts = { columns = { "campaign_id", "household_id", "mode", "proxy_name", "proxy_id_tail",
                             "sign_mode", "signature", "alloc_json", "recorded_by", "recorded_name",
                             "received_at" } },
    changes = { columns = { "campaign_id", "household_id", "action", "reason", "detail_json", "by_user",
                            "done_at" } },
    imports = { columns = { "rows_json", "row_count", "status", "created_by", "created_at" } },
  },

  queries = {
    -- every change to a campaign's list or stock takes this lock first
    lock_campaign = "SELECT id, status, drafted_by, draft_cursor FROM {campaigns} WHERE id = ? FOR UPDATE",
    lock_items = "SELECT id, code, name, unit, received, handed_out, set_aside FROM {items} WHERE campaign_id = ? ORDER BY id FOR UPDATE",
  },

  forms = {
    -- only to read the repeated check boxes of the campaign form
    campaign_cats = { fields = {
      { name = "categories", type = "multiselect", label = "发放对象类别", choices = cats.LIST },
    } },
  },

  routes = {
    { method = "GET", path = "/", roles = STAFF, handler = home },
    { method = "GET", path = "/households", roles = STAFF, handler = households_page },
    { method = "GET", path = "/households/import", roles = STAFF, handler = function()
        return import_page()
      end },
    { method = "POST", path = "/households/import", roles = STAFF, handler = function(req)
        local f = req.files and req.files.file
        if not f or f.size == 0 then
          return import_page(422, { file_error = "请选择要导入的CSV文件。", errors = {}, rows = {} })
        end
        local enc = req.form.encoding
        if enc ~= "utf-8" and enc ~= "gbk" then enc = "auto" end
        local p = preview(f.data, enc, util.me())
        p.encoding, p.filename = enc, f.filename
        return import_page((p.file_error or #p.errors > 0) and 422 or 200, p)
      end },
    { method = "POST", path = "/households/import/{id}/confirm", roles = STAFF, handler = function(req)
        local n, err = confirm_import(id_of(req.params.id) or 0, util.me())
        if not n then
          return import_page(409, { file_error = err, errors = {}, rows = {} })
        end
        return { redirect = "/p/welfare/households?imported=" .. n }
      end },

    { method = "GET", path = "/campaigns/new", roles = STAFF, handler = function()
        return new_campaign_page()
      end },
    { method = "POST", path = "/campaigns/new", roles = STAFF, handler = function(req)
        local input = campaign_input_from_form(req)
        local id, errs = campaign.create(input, util.me())
        if not id then
          return new_campaign_page(422, input, errs)
        end
        return { redirect = "/p/welfare/campaigns/" .. id }
      end },
    { method = "GET", path = "/campaigns/{id}", roles = { "staff", "admin", "approver" }, handler = function(req)
        local c, e = load(req)
        if not c then return e end
        return campaign_page(req, c)
      end },
    { method = "POST", path = "/campaigns/{id}/draft", roles = STAFF, handler = function(req)
        local c, e = load(req)
        if not c then return e end
        local res, err = util.run(campaign.draft, c.id, util.me())
        if err then
          return campaign_page(req, campaign.get(c.id), err.message, err.status)
        end
        local msg = res.done and string.format("名单已生成，共 %d 户。", res.listed)
          or string.format("已处理到第 %d 户，名单上暂有 %d 户。住户较多，请再点“继续生成名单”，直到生成完。",
                           res.processed, res.listed)
        return { redirect = string.format("/p/welfare/campaigns/%d?msg=%s", c.id, util.urlencode(msg)) }
      end },
    { method = "POST", path = "/campaigns/{id}/add", roles = STAFF, handler = page_op(function(c, req, me)
        return campaign.add(c.id, household_id(req.form), req.form.reason, me)
      end) },
    { method = "POST", path = "/campaigns/{id}/remove", roles = STAFF, handler = page_op(function(c, req, me)
        return campaign.remove(c.id, household_id(req.form), req.form.reason, me)
      end) },
    { method = "POST", path = "/campaigns/{id}/approve", roles = { "approver" }, handler = page_op(function(c, _, me)
        return campaign.approve(c.id, me)
      end) },
    { method = "POST", path = "/campaigns/{id}/close", roles = STAFF, handler = page_op(function(c, _, me)
        return campaign.close(c.id, me)
      end) },

    -- the hand-out desk, and home delivery by grid workers and volunteers
    { method = "GET", path = "/campaigns/{id}/desk", roles = STAFF, handler = function(req)
        local c, e = load(req)
        if not c then return e end
        return desk_page(req, c, { done = req.query.done })
      end },
    { method = "GET", path = "/campaigns/{id}/deliver", roles = DELIVERERS, handler = function(req)
        local c, e = load(req)
        if not c then return e end
        return desk_page(req, c, { deliver = true, done = req.query.done })
      end },
    { method = "POST", path = "/campaigns/{id}/desk/{hid}", roles = STAFF, handler = function(req)
        local c, e = load(req)
        if not c then return e end
        local hid = id_of(req.params.hid) or 0
        local _, err = util.run(campaign.receive, c.id, hid, receipt_input(req.form), util.me(), false)
        if err then
          return desk_page(req, c, { q = req.form.q, error = err.message, status = err.status })
        end
        portal.audit("receipt.record", "welfare_campaign", tostring(c.id), { household = hid })
        return { redirect = string.format("/p/welfare/campaigns/%d/desk?done=%d&q=%s", c.id, hid,
                                          util.urlencode(req.form.q)) }
      end },
    { method = "POST", path = "/campaigns/{id}/deliver/{hid}", roles = DELIVERERS, handler = function(req)
        local c, e = load(req)
        if not c then return e end
        local hid = id_of(req.params.hid) or 0
        local _, err = util.run(campaign.receive, c.id, hid, receipt_input(req.form), util.me(), true)
        if err then
          return desk_page(req, c, { deliver = true, error = err.message, status = err.status })
        end
        portal.audit("receipt.delivery", "welfare_campaign", tostring(c.id), { household = hid })
        return { redirect = string.format("/p/welfare/campaigns/%d/deliver?done=%d", c.id, hid) }
      end },

    { method = "GET", path = "/campaigns/{id}/sheet", roles = STAFF, handler = function(req)
        local c, e = load(req)
        if not c then return e end
        return sheet_page(req, c)
      end },
    { method = "GET", path = "/campaigns/{id}/receipts.csv", roles = STAFF, handler = function(req)
        local c, e = load(req)
        if not c then return e end
        return receipts_csv(c)
      end },
    { method = "GET", path = "/campaigns/{id}/summary", roles = { "staff", "admin", "approver" }, handler = function(req)
        local c, e = load(req)
        if not c then return e end
        local s = campaign.summary(c.id)
        return { template = "welfare_summary", data = { title = "发放汇总：" .. c.name, s = s,
                 c = views.campaign(c) } }
      end },
    { method = "GET", path = "/notice/{id}", handler = notice_page },

    -- ------------------------------------------------------------ JSON API (staff tokens)
    { method = "GET", path = "/households", api = true, roles = STAFF, handler = function(req)
        local rows = {}
        for _, h in ipairs(views.search(req.query.q)) do
          rows[#rows + 1] = views.household(h)
        end
        portal.audit("households.view", "welfare_households", "search", { rows = #rows })
        return { json = { households = rows, total = db.count("households", {}) } }
      end },
    { method = "POST", path = "/households", api = true, roles = STAFF, handler = function(req)
        local id, problems = importer.add_one(body(req), util.me().username)
        if not id then
          return { status = 422, error = table.concat(problems, ""), code = "invalid" }
        end
        return { status = 201, json = { id = id } }
      end },
    -- {csv = "text", confirm = true}: check (and with confirm, import) a CSV given as text
    { method = "POST", path = "/households/import", api = true, roles = STAFF, handler = function(req)
        local j = body(req)
        if type(j.csv) ~= "string" then
          return { status = 422, error = "请提供CSV内容（csv）。", code = "invalid" }
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
      end },
    { method = "POST", path = "/campaigns", api = true, roles = STAFF, handler = function(req)
        local j = body(req)
        if type(j.items) ~= "table" then
          return { status = 422, error = "请提供物品（items）和类别（categories）。", code = "invalid" }
        end
        local me = util.me()
        local id, errs = campaign.create(j, me)
        if not id then
          return { status = 422, error = "请检查填写的内容。", code = "invalid", fields = errs }
        end
        -- draft = true: draw up the list at once (what demo.json does, knowing no id); with
        -- more than campaign.DRAFT_CHUNK households, POST .../draft until done
        local d = j.draft == true and campaign.draft(id, me) or nil
        return { status = 201, json = { id = id, listed = d and d.listed, draft_done = d and d.done } }
      end },
    { method = "GET", path = "/campaigns/{id}", api = true, roles = { "staff", "admin", "approver" }, handler = function(req)
        local c, e = load(req)
        if not c then return e end
        local st = campaign.check(c.id)
        local counts = {}
        for _, s in ipairs({ "listed", "received", "removed", "released" }) do
          counts[s] = db.count("recipients", { campaign_id = c.id, status = s })
        end
        return { json = { campaign = views.campaign(c), rules = c.rules, stock = st.items,
                          consistent = st.consistent, problems = st.problems, recipients = counts } }
      end },
    { method = "POST", path = "/campaigns/{id}/draft", api = true, roles = STAFF, handler = api_op(function(c, _, me)
        return campaign.draft(c.id, me)
      end) },
    { method = "POST", path = "/campaigns/{id}/recipients", api = true, roles = STAFF, handler = api_op(function(c, j, me)
        return campaign.add(c.id, household_id(j), j.reason, me)
      end) },
    { method = "POST", path = "/campaigns/{id}/recipients/remove", api = true, roles = STAFF, handler = api_op(function(c, j, me)
        return campaign.remove(c.id, household_id(j), j.reason, me)
      end) },
    { method = "POST", path = "/campaigns/{id}/approve", api = true, roles = { "approver" }, handler = api_op(function(c, _, me)
        return campaign.approve(c.id, me)
      end) },
    { method = "POST", path = "/campaigns/{id}/receipts", api = true, roles = STAFF, handler = api_op(function(c, j, me)
        return campaign.receive(c.id, household_id(j), receipt_input(j), me, false)
      end, 201) },
    { method = "POST", path = "/campaigns/{id}/deliveries", api = true, roles = DELIVERERS, handler = api_op(function(c, j, me)
        return campaign.receive(c.id, household_id(j), receipt_input(j), me, true)
      end, 201) },
    { method = "POST", path = "/campaigns/{id}/close", api = true, roles = STAFF, handler = api_op(function(c, _, me)
        return campaign.close(c.id, me)
      end) },
    { method = "GET", path = "/campaigns/{id}/summary", api = true, roles = { "staff", "admin", "approver" }, handler = function(req)
        local c, e = load(req)
        if not c then return e end
        return { json = campaign.summary(c.id) }
      end },
  },
}
