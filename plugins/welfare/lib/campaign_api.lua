-- lib/campaign_api.lua - the JSON API of campaigns, for staff tokens (and demo.json): create,
-- read, each operation of lib/campaign.lua, the summary. An operation answers its result
-- with the stock after it; a refusal is the host's JSON error (lib/refusal.lua).
local db = portal.db
local util = require("lib.util")
local campaign = require("lib.campaign")
local views = require("lib.views")
local params = require("lib.params")
local refuse = require("lib.refusal").refuse

local M = {}

-- An API POST running one campaign operation fn(c, body, me); answers the stock after it.
local function api_op(fn, status)
  return function(req)
    local c = params.campaign(req)
    local res = fn(c, params.body(req), util.me())
    local st = campaign.check(c.id)
    return { status = status or 200, json = { result = res, stock = st.items, consistent = st.consistent,
             status = campaign.get(c.id).status } }
  end
end

-- POST /campaigns
function M.create(req)
  local j = params.body(req)
  if type(j.items) ~= "table" then
    refuse("请提供物品（items）和类别（categories）。", 422, "invalid")
  end
  local me = util.me()
  local id, errs = campaign.create(j, me)
  if not id then
    refuse("请检查填写的内容。", 422, "invalid", errs)
  end
  -- draft = true: draw up the list at once (what demo.json does, knowing no id); with
  -- more than campaign.DRAFT_CHUNK households, POST .../draft until done
  local d = j.draft == true and campaign.draft(id, me) or nil
  return { status = 201, json = { id = id, listed = d and d.listed, draft_done = d and d.done } }
end

-- GET /campaigns/{id}
function M.show(req)
  local c = params.campaign(req)
  local st = campaign.check(c.id)
  local counts = {}
  for _, s in ipairs({ "listed", "received", "removed", "released" }) do
    counts[s] = db.count("recipients", { campaign_id = c.id, status = s })
  end
  return { json = { campaign = views.campaign(c), rules = c.rules, stock = st.items,
                    consistent = st.consistent, problems = st.problems, recipients = counts } }
end

-- POST /campaigns/{id}/draft, /recipients, /recipients/remove, /approve, /receipts,
-- /deliveries, /close
M.draft = api_op(function(c, _, me)
  return campaign.draft(c.id, me)
end)

M.add = api_op(function(c, j, me)
  return campaign.add(c.id, params.household_id(j), j.reason, me)
end)

M.remove = api_op(function(c, j, me)
  return campaign.remove(c.id, params.household_id(j), j.reason, me)
end)

M.approve = api_op(function(c, _, me)
  return campaign.approve(c.id, me)
end)

M.receipt = api_op(function(c, j, me)
  return campaign.receive(c.id, params.household_id(j), params.receipt(j), me, false)
end, 201)

M.delivery = api_op(function(c, j, me)
  return campaign.receive(c.id, params.household_id(j), params.receipt(j), me, true)
end, 201)

M.close = api_op(function(c, _, me)
  return campaign.close(c.id, me)
end)

-- GET /campaigns/{id}/summary
function M.summary(req)
  return { json = campaign.summary(params.campaign(req).id) }
end

return M
