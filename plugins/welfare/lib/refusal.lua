-- lib/refusal.lua - the one way a plugin says no to a request (the house style of
-- docs/plugins.md, "House style"). Every shipped plugin has this same file and
-- `portald plugin new` writes it: plugins cannot share code (require stays inside the
-- plugin's folder), so copy it unchanged.
--
--   refuse("这一户已经在名单上了。")                    -- 409, code "refused"
--   refuse("找不到这个班次。", 404, "not_found")
--   local c = find(id) or refuse("找不到这次活动。", 404, "not_found")
--
-- refuse() raises, so it works at any depth: in a handler, in a helper the handler calls,
-- inside portal.db.transaction (which then rolls back: nothing is half-written). The
-- manifest wraps its route list in routes(), which turns a refusal into the host's error
-- response: the error page for pages, {"error": {message, code, fields}} for API routes.
-- Any other error goes on to the host unchanged (a clean 500, logged with the plugin id).
local M = {}

local MARK = {}   -- tells a refusal from every other error: no other code can make this value

local function is_refusal(e)
  return type(e) == "table" and e[MARK] == true
end

-- Refuse the request: message is what the person reads (zh-CN), status 4xx (default 409),
-- code a short English word for API clients (default "refused"), fields an optional
-- { field = message } table. Does not return.
function M.refuse(message, status, code, fields)
  error({ [MARK] = true, message = message, status = status or 409, code = code or "refused",
          fields = fields }, 0)
end

-- Call fn(...). Returns its results; when it refused, nil and the refusal
-- { message, status, code, fields }, for a page that shows the message itself instead of
-- the error page. Any other error is raised again.
function M.catch(fn, ...)
  local res = table.pack(pcall(fn, ...))
  if res[1] then
    return table.unpack(res, 2, res.n)
  end
  if is_refusal(res[2]) then
    return nil, res[2]
  end
  error(res[2], 0)
end

-- The host's error response for a refusal caught by catch().
function M.response(r)
  return { status = r.status, error = r.message, code = r.code, fields = r.fields }
end

-- The manifest's route list, each handler wrapped so that a refusal becomes the host's
-- error response. A handler that is not a function is left for the host to report.
function M.routes(list)
  for _, route in ipairs(list) do
    local handler = route.handler
    if type(handler) == "function" then
      route.handler = function(req)
        local ok, res = pcall(handler, req)
        if ok then
          return res
        elseif is_refusal(res) then
          return M.response(res)
        end
        error(res, 0)
      end
    end
  end
  return list
end

return M
