-- CSV import of households: the spreadsheet staff already keep, saved from Excel as CSV in
-- UTF-8 or GBK. check() decodes, parses and validates every row and writes nothing; commit()
-- writes all rows in one transaction or none.
local db = portal.db
local cats = require("lib.cats")
local util = require("lib.util")
local refusal = require("lib.refusal")

local M = {}

-- one request's CPU budget must cover checking and writing them (and an upload is at most
-- max_field_len, 64 KB by default: about 700 rows)
M.MAX_ROWS = 1000

-- header texts staff use -> field
local HEADERS = {
  head_name = { "户主姓名", "户主", "姓名" },
  members = { "人口数", "家庭人口", "人数", "人口" },
  address = { "地址", "住址", "家庭住址" },
  building = { "楼栋", "楼号" },
  grid = { "网格" },
  phone = { "联系电话", "电话", "手机", "手机号" },
  categories = { "类别", "类型", "救助类别" },
  note = { "备注" },
}
local REQUIRED = { { "head_name", "户主姓名" }, { "members", "人口数" }, { "address", "地址" } }

-- row number (1-based) of the line holding byte offset off (0-based) of bytes
local function line_of(bytes, off)
  local n = 1
  for _ in bytes:sub(1, off):gmatch("\n") do
    n = n + 1
  end
  return n
end

-- bytes, encoding ("auto", "utf-8" or "gbk") -> text, or nil, message
function M.decode(bytes, encoding)
  encoding = encoding or "auto"
  if encoding == "utf-8" then
    local text, _, off = portal.text.decode(bytes, "utf-8")
    if text then
      return text
    end
    return nil, string.format("第%d行：文件不是UTF-8编码的文字。如果表格是用Excel另存的“CSV（逗号分隔）”，请把编码选为“GBK”再试。",
                              line_of(bytes, off or 0))
  end
  if encoding == "auto" and portal.text.is_utf8(bytes) then
    return bytes
  end
  -- GB18030 is a superset of GBK: what Excel writes as "ANSI" on a Chinese PC
  local text, _, off = portal.text.decode(bytes, "gb18030")
  if text then
    return text
  end
  if encoding == "auto" then
    -- neither: the encoding that read further is the file's, the bad bytes are where it stopped
    local _, _, uoff = portal.text.decode(bytes, "utf-8")
    off = math.max(off or 0, uoff or 0)
  end
  return nil, string.format("第%d行：文件里有无法识别的文字（既不是UTF-8也不是GBK编码）。请用Excel重新另存为CSV再试。",
                            line_of(bytes, off or 0))
end

-- spaces at both ends, the full-width space (U+3000) too; patterns work on bytes, so the
-- three bytes of U+3000 are first turned into a plain space
local function trim(s)
  return ((s or ""):gsub("\u{3000}", " "):gsub("^%s+", ""):gsub("%s+$", ""))
end

-- "138 1234-5678" -> "13812345678"; "" stays ""; anything else that is no phone -> nil
function M.phone(s)
  s = trim(s):gsub("[%s%-]", "")
  if s == "" then
    return ""
  end
  if s:match("^1%d%d%d%d%d%d%d%d%d%d$") or s:match("^0?%d%d%d%d%d%d%d%d+$") and #s <= 12 then
    return s
  end
  return nil
end

-- One household as typed (strings) -> the row to store, and a list of problems (zh-CN).
function M.normalize(f)
  local h = {
    head_name = trim(f.head_name), address = trim(f.address), building = trim(f.building),
    grid = trim(f.grid), note = trim(f.note),
  }
  local problems = {}
  local function fail(msg)
    problems[#problems + 1] = msg
  end
  if h.head_name == "" then
    fail("没有填户主姓名。")
  elseif utf8.len(h.head_name) == nil or utf8.len(h.head_name) > 20 then
    fail("户主姓名太长（最多20个字）。")
  end
  local raw = trim(tostring(f.members or ""))
  local m = raw:gsub("人$", "")
  if m == "" then
    fail("没有填人口数。")
  elseif not m:match("^%d+$") or tonumber(m) < 1 or tonumber(m) > 30 then
    fail(string.format("人口数“%s”不是1到30之间的数字。", raw))
  else
    h.members = tonumber(m)
  end
  if h.address == "" then
    fail("没有填地址。")
  elseif (utf8.len(h.address) or 999) > 60 then
    fail("地址太长（最多60个字）。")
  end
  if (utf8.len(h.building) or 999) > 20 or (utf8.len(h.grid) or 999) > 20 then
    fail("楼栋或网格太长（最多20个字）。")
  end
  if (utf8.len(h.note) or 999) > 100 then
    fail("备注太长（最多100个字）。")
  end
  local p = M.phone(f.phone)
  if not p then
    fail(string.format("联系电话“%s”不是有效的号码。", trim(f.phone)))
  end
  h.phone = p or ""
  local list, unknown = cats.parse(f.categories)
  if not list then
    fail(string.format("不认识类别“%s”，可以填：孤寡老人、失独家庭、低保、残疾、其他。", unknown))
  elseif #list == 0 then
    fail("没有填类别（孤寡老人、失独家庭、低保、残疾、其他）。")
  else
    h.categories = cats.join(list)
  end
  return h, problems
end

-- text -> { rows = { {line, head_name, members, ...}, ... }, errors = { {line, message} } }
-- or nil, message (a problem with the whole file)
function M.check_text(text)
  local rows, err, line = portal.csv.parse(text)
  if not rows then
    return nil, string.format("第%d行：%s", line or 1, err)
  end
  if #rows == 0 then
    return nil, "文件是空的。"
  end
  -- the header row: which column holds what
  local col = {}
  for i, cell in ipairs(rows[1]) do
    local h = trim(cell)
    for field, names in pairs(HEADERS) do
      for _, n in ipairs(names) do
        if h == n and not col[field] then
          col[field] = i
        end
      end
    end
  end
  for _, r in ipairs(REQUIRED) do
    if not col[r[1]] then
      return nil, string.format("第1行：表头里没有“%s”这一列。第一行应是表头，例如：户主姓名,人口数,地址,楼栋,网格,联系电话,类别,备注", r[2])
    end
  end
  if #rows - 1 > M.MAX_ROWS then
    return nil, string.format("一次最多导入%d户，这个文件有%d行。请分成几个文件。", M.MAX_ROWS, #rows - 1)
  end

  local out, errors, seen = {}, {}, {}
  local function bad(n, msg)
    errors[#errors + 1] = { line = n, message = string.format("第%d行：%s", n, msg) }
  end
  for n = 2, #rows do
    local r = rows[n]
    local function cell(field)
      return col[field] and trim(r[col[field]]) or ""
    end
    local empty = true
    for _, c in ipairs(r) do
      if trim(c) ~= "" then
        empty = false
      end
    end
    if not empty then
      local h, problems = M.normalize({
        head_name = cell("head_name"), members = cell("members"), address = cell("address"),
        building = cell("building"), grid = cell("grid"), phone = cell("phone"),
        categories = cell("categories"), note = cell("note"),
      })
      h.line = n
      local ok = #problems == 0
      for _, msg in ipairs(problems) do
        bad(n, msg)
      end
      local function fail(msg)
        bad(n, msg)
        ok = false
      end
      if h.head_name ~= "" and h.address ~= "" then
        local key = h.head_name .. "\0" .. h.address
        if seen[key] then
          fail(string.format("和第%d行是同一户（户主和地址都相同）。", seen[key]))
        else
          seen[key] = n
        end
      end
      if ok then
        out[#out + 1] = h
      end
    end
  end
  -- households already on file
  local names = {}
  for _, h in ipairs(out) do
    names[#names + 1] = h.head_name
  end
  local existing = {}
  for i = 1, #names, 500 do
    local chunk = { table.unpack(names, i, math.min(i + 499, #names)) }
    for _, e in ipairs(util.find_all("households", { head_name = { "in", chunk } })) do
      existing[e.head_name .. "\0" .. e.address] = true
    end
  end
  local fresh = {}
  for _, h in ipairs(out) do
    if existing[h.head_name .. "\0" .. h.address] then
      bad(h.line, "这一户已经在住户名单里了（户主和地址相同）。")
    else
      fresh[#fresh + 1] = h
    end
  end
  table.sort(errors, function(a, b) return a.line < b.line end)
  if #fresh == 0 and #errors == 0 then
    return nil, "文件里只有表头，没有住户。"
  end
  return { rows = fresh, errors = errors }
end

-- bytes, encoding -> as check_text
function M.check(bytes, encoding)
  local text, err = M.decode(bytes, encoding)
  if not text then
    return nil, err
  end
  return M.check_text(text)
end

-- Write every row, or none: a household that appeared meanwhile rolls the whole import back.
-- rows as check() gave them. Returns the count, or nil, message.
function M.commit(rows, user)
  local now = util.now()
  local n, no = refusal.catch(db.transaction, function()
    for _, h in ipairs(rows) do
      local id = db.insert("households", {
        head_name = h.head_name, members = h.members, address = h.address,
        building = h.building, grid = h.grid, phone = h.phone, categories = h.categories,
        note = h.note, created_by = user, created_at = now,
      })
      if not id then
        refusal.refuse(string.format("第%d行：这一户刚刚已由别人录入（户主和地址相同）。整个文件都没有导入，请重新检查后再导入。", h.line))
      end
    end
    return #rows
  end)
  if no then
    return nil, no.message
  end
  return n
end

-- One household typed in by staff. Returns its id, or nil, list of problems.
function M.add_one(input, user)
  local h, problems = M.normalize(input)
  if #problems > 0 then
    return nil, problems
  end
  h.created_by, h.created_at = user, util.now()
  local id = db.insert("households", h)
  if not id then
    return nil, { "这一户已经在住户名单里了（户主和地址相同）。" }
  end
  return id
end

return M
