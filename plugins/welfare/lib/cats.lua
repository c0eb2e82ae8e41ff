-- Household categories: stored as codes ("gugua,dibao"), shown and imported as Chinese labels.
local M = {}

M.LIST = {
  { "gugua", "孤寡老人" },
  { "shidu", "失独家庭" },
  { "dibao", "低保" },
  { "canji", "残疾" },
  { "other", "其他" },
}

local by_label, by_code = {}, {}
for i, c in ipairs(M.LIST) do
  by_code[c[1]] = { code = c[1], label = c[2], order = i }
  by_label[c[2]] = c[1]
  by_label[c[1]] = c[1]
end
-- spellings staff use in their spreadsheets
by_label["低保户"] = "dibao"
by_label["残疾人"] = "canji"
by_label["孤寡"] = "gugua"
by_label["失独"] = "shidu"

-- "孤寡老人" / "gugua" -> "gugua", or nil
function M.code(label)
  return by_label[label]
end

function M.label(code)
  return by_code[code] and by_code[code].label or code
end

-- Split a list written by people: 、 ， , ; ； / and spaces all separate.
function M.split(text)
  local out = {}
  text = (text or ""):gsub("、", ","):gsub("，", ","):gsub("；", ","):gsub(";", ","):gsub("/", ",")
  for part in text:gmatch("[^,%s]+") do
    out[#out + 1] = part
  end
  return out
end

-- "低保、残疾" (a spreadsheet's cell) or { "低保", "canji" } (a JSON list) -> { "dibao", "canji" }
-- in declared order, or nil, the unknown word
function M.parse(text)
  local seen = {}
  local words = type(text) == "table" and text or M.split(text)
  for _, w in ipairs(words) do
    if type(w) ~= "string" then
      return nil, tostring(w)
    end
    local c = by_label[w]
    if not c then
      return nil, w
    end
    seen[c] = true
  end
  local out = {}
  for _, c in ipairs(M.LIST) do
    if seen[c[1]] then
      out[#out + 1] = c[1]
    end
  end
  return out
end

-- stored form "gugua,dibao" <-> list
function M.join(list)
  return table.concat(list, ",")
end

function M.from_stored(s)
  local out = {}
  for c in (s or ""):gmatch("[^,]+") do
    out[#out + 1] = c
  end
  return out
end

function M.labels(stored)
  local out = {}
  for _, c in ipairs(M.from_stored(stored)) do
    out[#out + 1] = M.label(c)
  end
  return table.concat(out, "、")
end

return M
