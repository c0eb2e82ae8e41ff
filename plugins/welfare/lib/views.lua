-- Rows as pages and JSON show them: phones masked, categories and allocations in words.
local db = portal.db
local cats = require("lib.cats")
local rules = require("lib.rules")
local util = require("lib.util")
local campaign = require("lib.campaign")

local M = {}

M.RECIPIENT_STATUS = { listed = "待领取", received = "已领取", removed = "已移出名单",
                       released = "未领取（活动结束时已释放）" }

local function tail4(phone)
  return (phone and #phone >= 4) and ("****" .. phone:sub(-4)) or ""
end
M.tail4 = tail4

-- A household for a staff page: every key present (templates look names up outward).
function M.household(h)
  return {
    id = h.id, head_name = h.head_name, members = h.members, address = h.address,
    building = h.building or "", grid = h.grid or "", phone = h.phone ~= "" and portal.mask.phone(h.phone) or "",
    phone_tail = tail4(h.phone), categories = cats.labels(h.categories), note = h.note or "",
  }
end

-- A household's place in a campaign: allocation, status, receipt.
function M.standing(c, items, h)
  local v = M.household(h)
  local r = db.find("recipients", { campaign_id = c.id, household_id = h.id })[1]
  local alloc = r and util.decode_alloc(r.alloc_json) or campaign.allocation(c, h)
  v.allocation = rules.describe(alloc, items)
  v.status = r and r.status or "none"
  v.status_text = r and M.RECIPIENT_STATUS[r.status] or "不在名单上"
  v.listed = v.status == "listed"
  v.received = v.status == "received"
  v.receipt = ""
  if v.received then
    local rc = db.find("receipts", { campaign_id = c.id, household_id = h.id })[1]
    v.receipt = rc and campaign.receipt_text(rc) or ""
  end
  return v
end

-- The list of a campaign (not the removed), ordered by grid, building, address.
function M.list(c, items, filter)
  local out = {}
  local recipients = util.find_all("recipients", { campaign_id = c.id })
  local households = util.households_of(recipients)
  for _, r in ipairs(recipients) do
    local h = households[r.household_id]
    if h and (r.status ~= "removed" or (filter and filter.removed)) and (not filter or
        ((not filter.grid or h.grid == filter.grid) and (not filter.building or h.building == filter.building))) then
      local v = M.household(h)
      v.allocation = rules.describe(util.decode_alloc(r.alloc_json), items)
      v.status = r.status
      v.status_text = M.RECIPIENT_STATUS[r.status] or r.status
      v.listed = r.status == "listed"
      v.received = r.status == "received"
      v.removed = r.status == "removed"
      out[#out + 1] = v
    end
  end
  table.sort(out, function(a, b)
    if a.grid ~= b.grid then return a.grid < b.grid end
    if a.building ~= b.building then return a.building < b.building end
    if a.address ~= b.address then return a.address < b.address end
    return a.id < b.id
  end)
  return out
end

function M.campaign(c)
  return {
    id = c.id, name = c.name, starts_on = c.starts_on, ends_on = c.ends_on,
    notice_from = c.notice_from or "", notice_to = c.notice_to or "",
    status = c.status, status_text = campaign.STATUS[c.status] or c.status,
    categories = cats.labels(c.categories), rules_text = c.rules_text,
    drafted_by = c.drafted_by or "", drafted_at = c.drafted_at or "", drafting = c.draft_cursor ~= nil,
    approved_by = c.approved_by or "", approved_at = c.approved_at or "",
    closed_at = c.closed_at or "",
    is_draft = c.status == "draft", is_approved = c.status == "approved", is_closed = c.status == "closed",
  }
end

-- Households matching what the desk typed: the last 4 digits of a phone, or part of a name
-- or an address. At most 30.
function M.search(q)
  q = (q or ""):gsub("^%s+", ""):gsub("%s+$", "")
  if q == "" then
    return {}
  end
  local found, seen = {}, {}
  local function add(rows)
    for _, h in ipairs(rows) do
      if not seen[h.id] and #found < 30 then
        seen[h.id] = true
        found[#found + 1] = h
      end
    end
  end
  if q:match("^%d%d%d%d$") then
    add(db.find("households", { phone = { "like", "%" .. q } }, { order_by = "id", limit = 30 }))
  end
  local pat = "%" .. util.like_escape(q) .. "%"
  add(db.find("households", { head_name = { "like", pat } }, { order_by = "id", limit = 30 }))
  add(db.find("households", { address = { "like", pat } }, { order_by = "id", limit = 30 }))
  return found
end

return M
