-- lib/campaign_pages.lua - the staff pages of a campaign: the list of campaigns, a new
-- campaign, one campaign (stock, recipient list, changes) with the buttons that change its
-- list (draw up, add, remove, approve, close), the printed signature sheet, the receipts
-- CSV and the summary. The operations themselves are in lib/campaign.lua; a refusal of one
-- is shown on the campaign page, above the list.
local db = portal.db
local util = require("lib.util")
local cats = require("lib.cats")
local rules = require("lib.rules")
local campaign = require("lib.campaign")
local views = require("lib.views")
local params = require("lib.params")
local refusal = require("lib.refusal")

local M = {}

local function is_approver()
  return portal.has_role("approver")
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

local function back_to(c, msg)
  return { redirect = string.format("/p/welfare/campaigns/%d?msg=%s", c.id, util.urlencode(msg)) }
end

-- A page POST running one campaign operation fn(c, req, me), then back to the campaign
-- page; a refusal is shown on the page.
local function page_op(fn)
  return function(req)
    local c = params.campaign(req)
    local _, no = refusal.catch(fn, c, req, util.me())
    if no then
      return campaign_page(req, campaign.get(c.id), no.message, no.status)
    end
    return back_to(c, "已保存。")
  end
end

-- GET /: the campaigns, newest first.
function M.home(req)
  local list = {}
  for _, c in ipairs(db.find("campaigns", {}, { order_by = "id desc", limit = 50 })) do
    list[#list + 1] = views.campaign(c)
  end
  return { template = "welfare_home", data = { title = "节日慰问发放", campaigns = list,
           households = db.count("households", {}) } }
end

-- GET /campaigns/new
function M.new()
  return new_campaign_page()
end

-- POST /campaigns/new
function M.create(req)
  local input = campaign_input_from_form(req)
  local id, errs = campaign.create(input, util.me())
  if not id then
    return new_campaign_page(422, input, errs)
  end
  return { redirect = "/p/welfare/campaigns/" .. id }
end

-- GET /campaigns/{id}
function M.show(req)
  return campaign_page(req, params.campaign(req))
end

-- POST /campaigns/{id}/draft: draw up the list, one chunk of households per request.
function M.draft(req)
  local c = params.campaign(req)
  local res, no = refusal.catch(campaign.draft, c.id, util.me())
  if no then
    return campaign_page(req, campaign.get(c.id), no.message, no.status)
  end
  return back_to(c, res.done and string.format("名单已生成，共 %d 户。", res.listed)
    or string.format("已处理到第 %d 户，名单上暂有 %d 户。住户较多，请再点“继续生成名单”，直到生成完。",
                     res.processed, res.listed))
end

-- POST /campaigns/{id}/add, /remove (household_id, reason), /approve, /close
M.add = page_op(function(c, req, me)
  return campaign.add(c.id, params.household_id(req.form), req.form.reason, me)
end)

M.remove = page_op(function(c, req, me)
  return campaign.remove(c.id, params.household_id(req.form), req.form.reason, me)
end)

M.approve = page_op(function(c, _, me)
  return campaign.approve(c.id, me)
end)

M.close = page_op(function(c, _, me)
  return campaign.close(c.id, me)
end)

-- GET /campaigns/{id}/sheet?grid=&building=: the printable signature sheet (签收表) of one
-- grid or building, or of the whole list.
function M.sheet(req)
  local c = params.campaign(req)
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

-- GET /campaigns/{id}/receipts.csv
function M.receipts_csv(req)
  local c = params.campaign(req)
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

-- GET /campaigns/{id}/summary
function M.summary(req)
  local c = params.campaign(req)
  local s = campaign.summary(c.id)
  return { template = "welfare_summary", data = { title = "发放汇总：" .. c.name, s = s,
           c = views.campaign(c) } }
end

return M
