-- lib/desk.lua - handing out: the desk at the office (staff find the household and record
-- the receipt) and delivery to the door (grid workers for their own grid, volunteers for the
-- household they stand at). One receipt per household is held by campaign.receive; a
-- refusal is shown on the desk page.
local db = portal.db
local util = require("lib.util")
local campaign = require("lib.campaign")
local views = require("lib.views")
local params = require("lib.params")
local refusal = require("lib.refusal")

local M = {}

-- What the desk's success message names after a receipt (?done=<household id>): the head's
-- masked name and the address, only when that household did receive in this campaign.
local function done_household(c, done)
  local hid = params.id(done)
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

-- GET /campaigns/{id}/desk?q=
function M.desk(req)
  return desk_page(req, params.campaign(req), { done = req.query.done })
end

-- GET /campaigns/{id}/deliver?q=
function M.deliver(req)
  return desk_page(req, params.campaign(req), { deliver = true, done = req.query.done })
end

-- POST /campaigns/{id}/desk/{hid}: the household received at the desk.
function M.desk_receipt(req)
  local c = params.campaign(req)
  local hid = params.id(req.params.hid) or 0
  local _, no = refusal.catch(campaign.receive, c.id, hid, params.receipt(req.form), util.me(), false)
  if no then
    return desk_page(req, c, { q = req.form.q, error = no.message, status = no.status })
  end
  portal.audit("receipt.record", "welfare_campaign", tostring(c.id), { household = hid })
  return { redirect = string.format("/p/welfare/campaigns/%d/desk?done=%d&q=%s", c.id, hid,
                                    util.urlencode(req.form.q)) }
end

-- POST /campaigns/{id}/deliver/{hid}: the household received at the door.
function M.delivery_receipt(req)
  local c = params.campaign(req)
  local hid = params.id(req.params.hid) or 0
  local _, no = refusal.catch(campaign.receive, c.id, hid, params.receipt(req.form), util.me(), true)
  if no then
    return desk_page(req, c, { deliver = true, error = no.message, status = no.status })
  end
  portal.audit("receipt.delivery", "welfare_campaign", tostring(c.id), { household = hid })
  return { redirect = string.format("/p/welfare/campaigns/%d/deliver?done=%d", c.id, hid) }
end

return M
