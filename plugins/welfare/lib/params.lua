-- lib/params.lua - what the handlers read from a request, checked in one place: ids in the
-- path, the campaign of {id}, the household a form or JSON body names, the receipt fields,
-- the JSON body of an API POST. What is not usable is refused (lib/refusal.lua).
local campaign = require("lib.campaign")
local refuse = require("lib.refusal").refuse

local M = {}

-- "12" -> 12; nil for anything that is not a positive 32-bit integer.
function M.id(s)
  local n = tonumber(s)
  return (n and n == math.floor(n) and n > 0 and n < 2 ^ 31) and math.tointeger(n) or nil
end

-- The campaign of {id} in the path, or refuse (404).
function M.campaign(req)
  local cid = M.id(req.params.id)
  return cid and campaign.get(cid) or refuse("找不到这次发放活动。", 404, "not_found")
end

-- The household_id of a form or JSON body, or refuse (422).
function M.household_id(src)
  return M.id(src.household_id) or refuse("请指定住户。", 422, "invalid")
end

-- The receipt fields of the desk's form or of an API body (campaign.receive checks them).
function M.receipt(src)
  return { mode = src.mode, proxy_name = src.proxy_name, proxy_id_tail = src.proxy_id_tail,
           sign_mode = src.sign_mode, signature = src.signature }
end

-- What an API POST sent: its JSON object (no page of this plugin posts to the API; a
-- signed-in browser's fetch sends the CSRF token in X-CSRF-Token).
function M.body(req)
  return type(req.json) == "table" and req.json or {}
end

return M
