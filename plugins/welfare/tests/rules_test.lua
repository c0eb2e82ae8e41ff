-- rules_test.lua - the allocation rules: parsed from what staff type, evaluated per household.
local rules = require("lib.rules")

local ITEMS = {
  { code = "i1", name = "大米", unit = "袋" },
  { code = "i2", name = "食用油", unit = "桶" },
  { code = "i3", name = "面粉", unit = "袋" },
  { code = "i4", name = "现金卡", unit = "张" },
}

local function parse(text)
  local r, err = rules.parse(text, ITEMS)
  T.ok(r, err)
  return r
end

T.test("every household gets rice and oil, three or more members also flour", function()
  local r = parse("全部: 大米=1, 食用油=1\n3人以上: 面粉=1")
  local two = rules.allocate(r, { members = 2, cats = { "gugua" } })
  T.eq(two.i1, 1); T.eq(two.i2, 1); T.eq(two.i3, nil)
  local three = rules.allocate(r, { members = 3, cats = { "dibao" } })
  T.eq(three.i1, 1); T.eq(three.i2, 1); T.eq(three.i3, 1)
  T.eq(rules.describe(three, ITEMS), "大米1袋、食用油1桶、面粉1袋")
end)

T.test("category rules add up, full-width punctuation is accepted", function()
  local r = parse("低保 残疾：大米×2，现金卡=1\n孤寡老人: 食用油=1\n2人以下: 面粉=1")
  local both = rules.allocate(r, { members = 1, cats = { "dibao", "gugua" } })
  T.eq(both.i1, 2); T.eq(both.i4, 1); T.eq(both.i2, 1); T.eq(both.i3, 1)
  local big = rules.allocate(r, { members = 5, cats = { "canji" } })
  T.eq(big.i1, 2); T.eq(big.i3, nil); T.eq(big.i2, nil)
  T.eq(next(rules.allocate(r, { members = 4, cats = { "other" } })), nil, "nothing applies")
  T.eq(rules.describe({}, ITEMS), "无")
end)

T.test("the same item in two matching rules is summed", function()
  local r = parse("全部: 大米=1\n3人以上: 大米=1")
  T.eq(rules.allocate(r, { members = 4, cats = {} }).i1, 2)
end)

T.test("mistakes are refused with the rule number", function()
  local cases = {
    { "全部 大米=1", "第1条规则少了冒号" },
    { "全部: 大米=1\n学生: 面粉=1", "第2条规则：不认识“学生”" },
    { "全部: 牛奶=1", "没有叫“牛奶”的物品" },
    { "全部: 大米", "应写成“物品=数量”" },
    { "全部: 大米=0", "数量应在1到99之间" },
    { "全部:", "没有写发什么物品" },
    { "", "请至少写一条发放规则" },
  }
  for _, case in ipairs(cases) do
    local r, err = rules.parse(case[1], ITEMS)
    T.eq(r, nil, case[1])
    T.ok(err and err:find(case[2], 1, true), string.format("%q -> %s", case[1], tostring(err)))
  end
end)

T.test("rules survive the JSON they are stored as", function()
  local r = parse("低保: 大米=2\n3人以上: 面粉=1")
  local back = portal.json.decode(portal.json.encode(r))
  T.eq(rules.allocate(back, { members = 3, cats = { "dibao" } }).i1, 2)
  T.eq(rules.allocate(back, { members = 3, cats = { "dibao" } }).i3, 1)
end)
