-- Allocation rules: declarative data, evaluated by allocate().
--
-- Staff write them one per line, for example
--     全部: 大米=1, 食用油=1
--     3人以上: 面粉=1
--     低保 残疾: 现金卡=1
-- Left of the colon: who (全部 = every household on the list; category names = any of them;
-- "N人以上" = at least N members; "N人以下" = at most N members). Right: item=quantity.
-- parse() turns that into data
--     { { cats = {"dibao","canji"}?, min = 3?, max = 2?, give = { i1 = 1 } }, ... }
-- which is what a campaign stores (rules_json) and what allocate() reads: a household gets
-- the sum of the `give` of every rule that matches it.
local cats = require("lib.cats")

local M = {}

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- text, items (list of {code, name}) -> rules, or nil, "第N条规则：..."
function M.parse(text, items)
  local by_name = {}
  for _, it in ipairs(items) do
    by_name[it.name] = it.code
  end
  local rules = {}
  local n = 0
  for line in (text or ""):gmatch("[^\r\n]+") do
    -- full-width and look-alike punctuation to ASCII (patterns work on bytes)
    line = trim(line:gsub("：", ":"):gsub("＝", "="):gsub("×", "="))
    if line ~= "" then
      n = n + 1
      local where = string.format("第%d条规则", n)
      local left, right = line:match("^(.-):(.*)$")
      if not left then
        return nil, where .. "少了冒号，应写成“全部: 大米=1”这样。"
      end
      local rule = { give = {} }
      for _, w in ipairs(cats.split(left)) do
        local num, kind = w:match("^(%d+)人(.*)$")
        if w == "全部" or w == "所有" then
          -- no condition
        elseif num and (kind == "以上" or kind == "及以上") then
          rule.min = tonumber(num)
        elseif num and (kind == "以下" or kind == "及以下") then
          rule.max = tonumber(num)
        elseif cats.code(w) then
          rule.cats = rule.cats or {}
          rule.cats[#rule.cats + 1] = cats.code(w)
        else
          return nil, string.format("%s：不认识“%s”，可以写全部、类别（孤寡老人、失独家庭、低保、残疾、其他）或“3人以上”。", where, w)
        end
      end
      local any = false
      for part in (right:gsub("，", ","):gsub("、", ",")):gmatch("[^,]+") do
        part = trim(part)
        if part ~= "" then
          local name, q = part:match("^(.-)%s*[=*]%s*(%d+)$")
          if not name then
            return nil, string.format("%s：“%s”应写成“物品=数量”。", where, part)
          end
          local code = by_name[trim(name)]
          if not code then
            return nil, string.format("%s：没有叫“%s”的物品。", where, trim(name))
          end
          q = tonumber(q)
          if q < 1 or q > 99 then
            return nil, string.format("%s：“%s”的数量应在1到99之间。", where, trim(name))
          end
          rule.give[code] = (rule.give[code] or 0) + q
          any = true
        end
      end
      if not any then
        return nil, where .. "没有写发什么物品。"
      end
      rules[#rules + 1] = rule
    end
  end
  if #rules == 0 then
    return nil, "请至少写一条发放规则。"
  end
  return rules
end

local function matches(rule, hh)
  if rule.min and hh.members < rule.min then
    return false
  end
  if rule.max and hh.members > rule.max then
    return false
  end
  if rule.cats then
    for _, want in ipairs(rule.cats) do
      for _, have in ipairs(hh.cats) do
        if want == have then
          return true
        end
      end
    end
    return false
  end
  return true
end

-- rules, household {members = n, cats = {codes}} -> { code = qty } (empty when nothing applies)
function M.allocate(rules, hh)
  local out = {}
  for _, rule in ipairs(rules) do
    if matches(rule, hh) then
      for code, q in pairs(rule.give) do
        out[code] = (out[code] or 0) + q
      end
    end
  end
  return out
end

-- An allocation as text in item order: "大米1袋、食用油1桶"
function M.describe(alloc, items)
  local parts = {}
  for _, it in ipairs(items) do
    local q = alloc[it.code]
    if q and q > 0 then
      parts[#parts + 1] = string.format("%s%d%s", it.name, q, it.unit or "")
    end
  end
  return #parts > 0 and table.concat(parts, "、") or "无"
end

return M
