-- Small helpers shared by the welfare modules.
local db = portal.db

local M = {}

function M.now()
  return portal.time.date("%Y-%m-%d %H:%M:%S")
end

-- Every row of a where, in id order, paging past db.find's 1000-row limit.
function M.find_all(tbl, where)
  local out, last = {}, 0
  while true do
    local w = {}
    for k, v in pairs(where or {}) do
      w[k] = v
    end
    w.id = { ">", last }
    local page = db.find(tbl, w, { order_by = "id", limit = 1000 })
    for _, r in ipairs(page) do
      out[#out + 1] = r
    end
    if #page < 1000 then
      return out
    end
    last = page[#page].id
  end
end

-- The households named by field key (default "household_id") of rows, as { [id] = row }:
-- one query per 500 ids instead of one per row.
function M.households_of(rows, key)
  key = key or "household_id"
  local ids, seen, out = {}, {}, {}
  for _, r in ipairs(rows) do
    local id = r[key]
    if id and not seen[id] then
      seen[id] = true
      ids[#ids + 1] = id
    end
  end
  for i = 1, #ids, 500 do
    local part = table.move(ids, i, math.min(i + 499, #ids), 1, {})
    for _, h in ipairs(db.find("households", { id = { "in", part } }, { limit = 500 })) do
      out[h.id] = h
    end
  end
  return out
end

-- The signed-in user as { username, name, roles = set, grid }; in a job or test body the
-- "system" user.
function M.me()
  local u = portal.user()
  if not u then
    return { username = "system", name = "系统", roles = {}, grid = nil }
  end
  local roles = {}
  for _, r in ipairs(u.roles) do
    roles[r] = true
  end
  return { username = u.username, name = u.display_name or u.username, roles = roles, grid = u.grid }
end

-- A LIKE pattern for text typed by a person: % and _ are taken literally.
function M.like_escape(s)
  return (s:gsub("[\\%%_]", "\\%0"))
end

-- A query-string value: every byte but letters and digits percent-encoded.
function M.urlencode(s)
  return ((s or ""):gsub("[^%w]", function(ch)
    return string.format("%%%02X", ch:byte())
  end))
end

function M.decode_alloc(s)
  local t = portal.json.decode(s or "{}")
  return type(t) == "table" and t or {}
end

return M
