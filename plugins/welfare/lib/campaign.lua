-- Campaigns and their stock: every operation that changes the list or the stock runs in one
-- transaction that first locks the campaign's row, so operations on one campaign happen one
-- after another and the item counters always match the list and the receipts:
--     remaining = received - handed_out - set_aside   (per item, never below zero)
--     set_aside = what the households still on the approved list are due
--     handed_out = what the receipts record
-- check() recomputes both sums from the rows and compares.
local db = portal.db
local util = require("lib.util")
local rules = require("lib.rules")
local cats = require("lib.cats")

local refuse = require("lib.refusal").refuse
local M = {}

M.STATUS = { draft = "草稿（名单未审批）", approved = "已审批，发放中", closed = "已结束" }
M.MODES = { self = "本人领取", proxy = "代领", delivery = "送上门" }
M.SIGN_MODES = { screen = "屏幕签名", paper = "在纸质签收表上签字" }

local function trim(s)
  return ((s or ""):gsub("^%s+", ""):gsub("%s+$", ""))
end

local function is_date(s)
  return type(s) == "string" and s:match("^%d%d%d%d%-%d%d%-%d%d$") and portal.time.parse(s) ~= nil
end

function M.items(cid)
  return db.find("items", { campaign_id = cid }, { order_by = "id", limit = 100 })
end

local function locked_items(cid)
  return db.query("lock_items", { cid })
end

local function lock(cid)
  local c = db.query("lock_campaign", { cid })[1]
  if not c then
    refuse("找不到这次发放活动。", 404, "not_found")
  end
  return c
end

local function log_change(cid, hid, action, reason, by, detail)
  db.insert("changes", {
    campaign_id = cid, household_id = hid or db.NULL, action = action, reason = reason or "",
    detail_json = portal.json.encode(detail or {}), by_user = by, done_at = util.now(),
  })
end

-- Move quantities of alloc (times sign) out of column from_col and into to_col of the locked
-- items (either may be nil); refuse when that would leave any counter or the remaining stock
-- below zero.
local function move(items, alloc, sign, from_col, to_col)
  for _, it in ipairs(items) do
    local q = (alloc[it.code] or 0) * sign
    if q ~= 0 then
      local set = {}
      if from_col then
        set[from_col] = it[from_col] - q
      end
      if to_col then
        set[to_col] = it[to_col] + q
      end
      local aside = set.set_aside or it.set_aside
      local out = set.handed_out or it.handed_out
      if aside < 0 or out < 0 or it.received - out - aside < 0 then
        refuse(string.format("%s库存不够：还剩%d%s，需要%d%s。", it.name,
          it.received - it.handed_out - it.set_aside, it.unit, math.abs(q), it.unit))
      end
      for col, v in pairs(set) do
        it[col] = v
      end
      db.update("items", { id = it.id }, set)
    end
  end
end

-- Items given as text, one per line: "大米,100,袋" (name, quantity received, unit).
function M.items_from_text(text)
  local list = {}
  local n = 0
  for line in (text or ""):gmatch("[^\r\n]+") do
    line = trim((line:gsub("，", ",")))
    if line ~= "" then
      n = n + 1
      local parts = {}
      for p in (line .. ","):gmatch("([^,]*),") do
        parts[#parts + 1] = trim(p)
      end
      list[#list + 1] = { name = parts[1], qty = parts[2], unit = parts[3] or "" }
    end
  end
  return list
end

-- Check and store a new campaign. input: name, starts_on, ends_on, notice_from?, notice_to?,
-- categories (list of codes), items (list of {name, qty, unit}), rules_text.
-- Returns the id, or nil, { field = message }.
function M.create(input, me)
  local errs = {}
  local name = trim(input.name)
  if name == "" then
    errs.name = "请填写活动名称。"
  elseif utf8.len(name) > 40 then
    errs.name = "活动名称不能超过40个字。"
  end
  if not is_date(input.starts_on) then
    errs.starts_on = "请按“年-月-日”填写开始日期，例如 2026-02-01。"
  end
  if not is_date(input.ends_on) then
    errs.ends_on = "请按“年-月-日”填写结束日期。"
  elseif is_date(input.starts_on) and input.ends_on < input.starts_on then
    errs.ends_on = "结束日期不能早于开始日期。"
  end
  local nf, nt = trim(input.notice_from), trim(input.notice_to)
  if nf ~= "" or nt ~= "" then
    if not is_date(nf) or not is_date(nt) or nt < nf then
      errs.notice = "公示期请填写开始和结束两个日期（年-月-日），结束不能早于开始；不公示就都不填。"
    end
  end
  local clist = {}
  local given = input.categories
  if given ~= nil and type(given) ~= "table" then
    errs.categories = "类别应为一组类别代码，例如 [\"gugua\", \"dibao\"]。"
    given = {}
  end
  for _, c in ipairs(given or {}) do
    if not cats.code(c) then
      errs.categories = "不认识的类别：" .. tostring(c)
      break
    else
      clist[#clist + 1] = cats.code(c)
    end
  end
  if #clist == 0 and not errs.categories then
    errs.categories = "请至少选一个类别。"
  end
  local items, names = {}, {}
  for i, it in ipairs(input.items or {}) do
    local iname = trim(it.name)
    local qty = tonumber(it.qty)
    if iname == "" or utf8.len(iname) > 20 then
      errs.items = string.format("第%d个物品：名称应为1到20个字。", i)
    elseif names[iname] then
      errs.items = string.format("物品“%s”写了两次。", iname)
    elseif not qty or qty ~= math.floor(qty) or qty < 0 or qty > 100000 then
      errs.items = string.format("物品“%s”的数量应为0到100000的整数。", iname)
    elseif utf8.len(trim(it.unit)) > 4 then
      errs.items = string.format("物品“%s”的单位太长（最多4个字）。", iname)
    else
      names[iname] = true
      items[#items + 1] = { code = "i" .. i, name = iname, qty = math.tointeger(qty), unit = trim(it.unit) }
    end
  end
  if #items == 0 and not errs.items then
    errs.items = "请至少写一种物品，例如“大米,100,袋”。"
  elseif #items > 12 then
    errs.items = "一次活动最多12种物品。"
  end
  local parsed
  if not errs.items then
    local perr
    parsed, perr = rules.parse(input.rules_text, items)
    if not parsed then
      errs.rules_text = perr
    end
  end
  if next(errs) then
    return nil, errs
  end
  return db.transaction(function()
    local id = db.insert("campaigns", {
      name = name, starts_on = input.starts_on, ends_on = input.ends_on,
      notice_from = nf ~= "" and nf or db.NULL, notice_to = nt ~= "" and nt or db.NULL,
      categories = cats.join(clist), rules_text = trim(input.rules_text),
      rules_json = portal.json.encode(parsed), status = "draft",
      created_by = me.username, created_at = util.now(),
    })
    for _, it in ipairs(items) do
      db.insert("items", { campaign_id = id, code = it.code, name = it.name, unit = it.unit,
                           received = it.qty, handed_out = 0, set_aside = 0 })
    end
    log_change(id, nil, "create", "", me.username, { items = #items })
    return id
  end)
end

function M.get(cid)
  local c = db.get("campaigns", cid)
  if c then
    c.rules = portal.json.decode(c.rules_json) or {}
    c.cat_list = cats.from_stored(c.categories)
  end
  return c
end

local function household_view(h)
  return { members = h.members, cats = cats.from_stored(h.categories) }
end

-- The allocation a household is due in a campaign (by its rules).
function M.allocation(c, h)
  return rules.allocate(c.rules, household_view(h))
end

local function eligible(c, h)
  for _, want in ipairs(c.cat_list) do
    for _, have in ipairs(cats.from_stored(h.categories)) do
      if want == have then
        return true
      end
    end
  end
  return false
end

-- Households one call of draft() goes through: each listed one is an INSERT (a round trip
-- of about 0.1 ms), and a request's CPU budget (plugin_cpu_ms, 500 ms by default) counts
-- the time spent waiting for the database too.
M.DRAFT_CHUNK = 1000

-- Draw up the list from the campaign's categories (again, while it is a draft), in steps of
-- DRAFT_CHUNK households by id: the first call empties the list, each call adds the next
-- step's households, the last one marks the list drawn up (drafted_by). Until then the list
-- cannot be approved or edited, and another call simply carries on. Returns { listed =
-- households on the list so far, processed = households gone through, done = true|false }.
function M.draft(cid, me)
  return db.transaction(function()
    local locked = lock(cid)
    if locked.status ~= "draft" then
      refuse("名单已经审批，不能重新生成。审批后的改动请逐户增减并写明原因。")
    end
    local c = M.get(cid)
    local now = util.now()
    local cursor = locked.draft_cursor
    if not cursor then
      db.delete("recipients", { campaign_id = cid })
      cursor = 0
    end
    local page = db.find("households", { id = { ">", cursor } }, { order_by = "id", limit = M.DRAFT_CHUNK })
    for _, h in ipairs(page) do
      if eligible(c, h) then
        local alloc = M.allocation(c, h)
        if next(alloc) then
          db.insert("recipients", { campaign_id = cid, household_id = h.id,
                                    alloc_json = portal.json.encode(alloc), status = "listed",
                                    updated_at = now })
        end
      end
    end
    local listed = db.count("recipients", { campaign_id = cid })
    local processed = db.count("households", { id = { "<=", page[#page] and page[#page].id or cursor } })
    if #page == M.DRAFT_CHUNK then
      db.update("campaigns", { id = cid }, { draft_cursor = page[#page].id, drafted_by = db.NULL,
                                             drafted_at = db.NULL })
      return { listed = listed, processed = processed, done = false }
    end
    db.update("campaigns", { id = cid }, { draft_cursor = db.NULL, drafted_by = me.username, drafted_at = now })
    log_change(cid, nil, "draft", "", me.username, { households = listed })
    return { listed = listed, processed = processed, done = true }
  end)
end

local function need_reason(c, reason)
  reason = trim(reason)
  if c.status == "approved" then
    if utf8.len(reason) < 2 then
      refuse("名单已经审批冻结，改动必须写明原因。", 422, "reason_required")
    elseif utf8.len(reason) > 200 then
      refuse("原因不能超过200个字。", 422, "reason_required")
    end
  end
  return reason
end

-- Start a change of campaign cid's list inside a transaction: lock the campaign, refuse a
-- closed one, and (once approved) insist on a reason. Returns the campaign and the reason.
local function list_change(cid, reason)
  local c = lock(cid)
  if c.status == "closed" then
    refuse("这次发放已经结束，名单不能再改。")
  elseif c.draft_cursor then
    refuse("名单还在生成中，请先点“继续生成名单”生成完，再逐户增减。", 409, "drafting")
  end
  return c, need_reason(c, reason)
end

-- Put a household on the list (after approval: with a reason, and its share set aside).
function M.add(cid, hid, reason, me)
  return db.transaction(function()
    local c
    c, reason = list_change(cid, reason)
    local h = db.get("households", hid)
    if not h then
      refuse("找不到这一户。", 404, "not_found")
    end
    local full = M.get(cid)
    local alloc = M.allocation(full, h)
    if not next(alloc) then
      refuse("按本次的发放规则，这一户分不到任何物品，请先修改规则或住户信息。")
    end
    local r = db.find("recipients", { campaign_id = cid, household_id = hid })[1]
    if r and (r.status == "listed" or r.status == "received") then
      refuse("这一户已经在名单上了。")
    end
    if c.status == "approved" then
      move(locked_items(cid), alloc, 1, nil, "set_aside")
    end
    local row = { alloc_json = portal.json.encode(alloc), status = "listed", updated_at = util.now() }
    if r then
      db.update("recipients", { id = r.id }, row)
    else
      row.campaign_id, row.household_id = cid, hid
      db.insert("recipients", row)
    end
    log_change(cid, hid, "add", reason, me.username, alloc)
    return alloc
  end)
end

-- Take a household off the list (after approval: with a reason; its share goes back).
function M.remove(cid, hid, reason, me)
  return db.transaction(function()
    local c
    c, reason = list_change(cid, reason)
    local r = db.find("recipients", { campaign_id = cid, household_id = hid })[1]
    if not r or r.status == "removed" or r.status == "released" then
      refuse("这一户不在名单上。", 404, "not_found")
    end
    if r.status == "received" then
      refuse("这一户已经领取了，不能从名单上移出。")
    end
    if c.status == "approved" then
      move(locked_items(cid), util.decode_alloc(r.alloc_json), -1, nil, "set_aside")
    end
    db.update("recipients", { id = r.id }, { status = "removed", updated_at = util.now() })
    log_change(cid, hid, "remove", reason, me.username, {})
    return true
  end)
end

-- Approve the drafted list: by an approver who neither drew it up nor edited it. The list is
-- then frozen and every household's share is set aside.
function M.approve(cid, me)
  return db.transaction(function()
    local c = lock(cid)
    if c.status ~= "draft" then
      refuse("这份名单已经审批过了。")
    end
    if c.draft_cursor then
      refuse("名单还在生成中，请先点“继续生成名单”生成完。", 409, "drafting")
    elseif not c.drafted_by then
      refuse("还没有生成名单。")
    end
    if c.drafted_by == me.username or db.count("changes", { campaign_id = cid, by_user = me.username,
        action = { "in", { "draft", "add", "remove" } } }) > 0 then
      refuse("名单要由另一位审批人审批：您生成或修改过这份名单，不能自己审批。", 403, "same_user")
    end
    local need = {}
    local listed = db.find("recipients", { campaign_id = cid, status = "listed" }, { limit = 1 })
    if #listed == 0 then
      refuse("名单上还没有住户。")
    end
    for _, r in ipairs(util.find_all("recipients", { campaign_id = cid, status = "listed" })) do
      for code, q in pairs(util.decode_alloc(r.alloc_json)) do
        need[code] = (need[code] or 0) + q
      end
    end
    local short = {}
    local items = locked_items(cid)
    for _, it in ipairs(items) do
      local q = need[it.code] or 0
      if q > it.received - it.handed_out - it.set_aside then
        short[#short + 1] = string.format("%s需要%d%s，库存只有%d%s", it.name, q, it.unit,
          it.received - it.handed_out - it.set_aside, it.unit)
      end
    end
    if #short > 0 then
      refuse("库存不够，不能审批：" .. table.concat(short, "；") .. "。请先补充库存或调整名单。")
    end
    for _, it in ipairs(items) do
      if (need[it.code] or 0) > 0 then
        db.update("items", { id = it.id }, { set_aside = it.set_aside + need[it.code] })
      end
    end
    db.update("campaigns", { id = cid }, { status = "approved", approved_by = me.username,
                                           approved_at = util.now() })
    log_change(cid, nil, "approve", "", me.username, need)
    return true
  end)
end

-- Who received a household's share, as one sentence.
function M.receipt_text(rc)
  local who = M.MODES[rc.mode] or rc.mode
  if rc.mode == "proxy" then
    who = string.format("由%s代领（证件尾号%s）", rc.proxy_name or "", rc.proxy_id_tail or "")
  elseif rc.mode == "delivery" then
    who = string.format("由%s送上门", rc.recorded_name)
  else
    who = "由本人领取"
  end
  return string.format("这一户已于%s%s，经办人：%s。", rc.received_at:sub(1, 16), who, rc.recorded_name)
end

-- Check what the desk sent for a receipt. Returns the row fields, or refuses (422).
function M.check_receipt(input, delivery)
  local mode = delivery and "delivery" or input.mode
  if mode ~= "self" and mode ~= "proxy" and mode ~= "delivery" then
    refuse("请选择领取方式：本人领取、代领或送上门。", 422, "invalid")
  end
  local row = { mode = mode }
  if mode == "proxy" then
    local pn = trim(input.proxy_name)
    local tail = trim(input.proxy_id_tail):upper()
    if utf8.len(pn) == nil or utf8.len(pn) < 2 or utf8.len(pn) > 20 then
      refuse("代领时请填写代领人的姓名。", 422, "proxy_required")
    end
    if not tail:match("^%d%d%d[%dX]$") then
      refuse("代领时请填写代领人身份证号的后4位。", 422, "proxy_required")
    end
    row.proxy_name, row.proxy_id_tail = pn, tail
  end
  local sm = input.sign_mode
  if sm == "screen" then
    local sig = input.signature or ""
    local max = (portal.config.signature_max_kb or 48) * 1024
    if sig == "" then
      refuse("请先在屏幕上签名，或选择“在纸质签收表上签字”。", 422, "signature_required")
    end
    if #sig > max then
      refuse("签名图片太大，请清除后重新签一次。", 422, "signature_too_large")
    end
    if not sig:match("^data:image/png;base64,[A-Za-z0-9+/]+=*$") then
      refuse("签名图片格式不对，请清除后重新签一次。", 422, "signature_invalid")
    end
    row.signature = sig
  elseif sm == "paper" then
    row.signature = db.NULL
  else
    refuse("请选择签名方式：屏幕签名或在纸质签收表上签字。", 422, "invalid")
  end
  row.sign_mode = sm
  return row
end

-- Record that a household received its share. delivery: recorded by the grid worker or
-- volunteer who took it to the home. Refuses a second receipt with who and when.
function M.receive(cid, hid, input, me, delivery)
  local row = M.check_receipt(input, delivery)
  return db.transaction(function()
    local c = lock(cid)
    if c.status == "draft" then
      refuse("名单还没有审批，现在不能发放。")
    elseif c.status == "closed" then
      refuse("这次发放已经结束。")
    end
    local h = db.get("households", hid)
    if not h then
      refuse("找不到这一户。", 404, "not_found")
    end
    if me.roles.grid and not me.roles.staff and not me.roles.admin and h.grid ~= me.grid then
      refuse("这一户不在您负责的网格，不能由您登记。", 403, "out_of_scope")
    end
    local r = db.find("recipients", { campaign_id = cid, household_id = hid })[1]
    local prior = db.find("receipts", { campaign_id = cid, household_id = hid })[1]
    if prior then
      refuse(M.receipt_text(prior), 409, "already_received")
    end
    if not r or r.status ~= "listed" then
      refuse("这一户不在本次发放名单上。", 404, "not_listed")
    end
    row.campaign_id, row.household_id = cid, hid
    row.alloc_json = r.alloc_json
    row.recorded_by, row.recorded_name = me.username, me.name
    row.received_at = util.now()
    local id = db.insert("receipts", row)
    if not id then
      -- the unique key: only reachable if the lock above were ever taken away
      refuse(M.receipt_text(db.find("receipts", { campaign_id = cid, household_id = hid })[1]),
             409, "already_received")
    end
    move(locked_items(cid), util.decode_alloc(r.alloc_json), 1, "set_aside", "handed_out")
    db.update("recipients", { id = r.id }, { status = "received", updated_at = row.received_at })
    return id
  end)
end

-- Close the campaign: households that never collected are released and their share goes
-- back to the remaining stock.
function M.close(cid, me)
  return db.transaction(function()
    local c = lock(cid)
    if c.status ~= "approved" then
      refuse(c.status == "closed" and "这次发放已经结束了。" or "名单还没有审批，不能结束。")
    end
    local items = locked_items(cid)
    local n = 0
    local back = {}
    for _, r in ipairs(util.find_all("recipients", { campaign_id = cid, status = "listed" })) do
      for code, q in pairs(util.decode_alloc(r.alloc_json)) do
        back[code] = (back[code] or 0) + q
      end
      db.update("recipients", { id = r.id }, { status = "released", updated_at = util.now() })
      n = n + 1
    end
    move(items, back, -1, nil, "set_aside")
    db.update("campaigns", { id = cid }, { status = "closed", closed_by = me.username,
                                           closed_at = util.now() })
    log_change(cid, nil, "close", "", me.username, { released = n, items = back })
    return n
  end)
end

-- The stock of every item, recomputed from the list and the receipts and compared with the
-- counters. Returns { items = {...}, consistent = bool, problems = {...} }.
function M.check(cid)
  local c = M.get(cid)
  local due, out = {}, {}
  -- only an approved list sets its shares aside (a draft's must be 0): no need to read it
  local listed = c.status == "approved" and util.find_all("recipients", { campaign_id = cid, status = "listed" }) or {}
  for _, r in ipairs(listed) do
    for code, q in pairs(util.decode_alloc(r.alloc_json)) do
      due[code] = (due[code] or 0) + q
    end
  end
  for _, rc in ipairs(util.find_all("receipts", { campaign_id = cid })) do
    for code, q in pairs(util.decode_alloc(rc.alloc_json)) do
      out[code] = (out[code] or 0) + q
    end
  end
  local res = { items = {}, consistent = true, problems = {} }
  for _, it in ipairs(M.items(cid)) do
    local remaining = it.received - it.handed_out - it.set_aside
    local want_aside = c.status == "approved" and (due[it.code] or 0) or 0
    local want_out = out[it.code] or 0
    if it.set_aside ~= want_aside or it.handed_out ~= want_out or remaining < 0 then
      res.consistent = false
      res.problems[#res.problems + 1] = string.format("%s: set_aside %d (list says %d), handed_out %d (receipts say %d), remaining %d",
        it.code, it.set_aside, want_aside, it.handed_out, want_out, remaining)
    end
    res.items[#res.items + 1] = { code = it.code, name = it.name, unit = it.unit,
      received = it.received, handed_out = it.handed_out, set_aside = it.set_aside,
      remaining = remaining }
  end
  return res
end

-- Households by category, items out, undelivered, remaining.
function M.summary(cid)
  local c = M.get(cid)
  local st = M.check(cid)
  local by_cat = {}
  for _, cat in ipairs(cats.LIST) do
    by_cat[cat[1]] = { code = cat[1], label = cat[2], listed = 0, served = 0 }
  end
  local counts = { listed = 0, served = 0, waiting = 0, released = 0, removed = 0 }
  local undelivered = {}
  local recipients = util.find_all("recipients", { campaign_id = cid })
  local households = util.households_of(recipients)
  for _, r in ipairs(recipients) do
    if r.status ~= "removed" then
      local h = households[r.household_id]
      counts.listed = counts.listed + 1
      for _, code in ipairs(cats.from_stored(h and h.categories)) do
        local b = by_cat[code]
        if b then
          b.listed = b.listed + 1
          if r.status == "received" then
            b.served = b.served + 1
          end
        end
      end
      if r.status == "received" then
        counts.served = counts.served + 1
      else
        if r.status == "released" then
          counts.released = counts.released + 1
        else
          counts.waiting = counts.waiting + 1
        end
        for code, q in pairs(util.decode_alloc(r.alloc_json)) do
          undelivered[code] = (undelivered[code] or 0) + q
        end
      end
    else
      counts.removed = counts.removed + 1
    end
  end
  local modes = { self = 0, proxy = 0, delivery = 0 }
  for _, rc in ipairs(util.find_all("receipts", { campaign_id = cid })) do
    modes[rc.mode] = (modes[rc.mode] or 0) + 1
  end
  local cat_rows = {}
  for _, cat in ipairs(cats.LIST) do
    cat_rows[#cat_rows + 1] = by_cat[cat[1]]
  end
  for _, it in ipairs(st.items) do
    it.undelivered = undelivered[it.code] or 0
  end
  return { campaign = { id = c.id, name = c.name, status = c.status }, households = counts,
           by_category = cat_rows, receipts_by_mode = modes, items = st.items,
           consistent = st.consistent }
end

return M
