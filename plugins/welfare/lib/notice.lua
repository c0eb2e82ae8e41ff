-- lib/notice.lua - the public notice (公示) of a campaign's list during its posting period,
-- for residents: names masked, the building only.
local campaign = require("lib.campaign")
local views = require("lib.views")
local params = require("lib.params")
local refuse = require("lib.refusal").refuse

local M = {}

-- GET /notice/{id}: no login; nothing outside the posting period.
function M.page(req)
  local cid = params.id(req.params.id)
  local c = cid and campaign.get(cid)
  local today = portal.time.today()
  if not c or c.status == "draft" or not c.notice_from or today < c.notice_from or today > c.notice_to then
    refuse("没有正在公示的名单。", 404, "not_found")
  end
  local rows = {}
  for _, r in ipairs(views.list(c, campaign.items(c.id))) do
    rows[#rows + 1] = { name = portal.mask.name(r.head_name), building = r.building }
  end
  return { template = "welfare_notice", data = { title = c.name .. " 慰问对象公示", name = c.name,
           notice_from = c.notice_from, notice_to = c.notice_to, rows = rows, count = #rows } }
end

return M
