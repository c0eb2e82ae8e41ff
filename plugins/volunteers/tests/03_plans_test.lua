-- 03_plans_test.lua - recurring care plans make their shifts ahead, never twice.

local function coverage()
  local r = T.request{ path = "/coverage", api = true, user = STAFF, query = { weeks = "12" } }
  T.eq(r.status, 200)
  return r.json.shifts
end

local function count_role(list, role)
  local n = 0
  for _, s in ipairs(list) do
    if s.role == role then
      n = n + 1
    end
  end
  return n
end

T.test("a weekly plan makes one visit a week for the coming weeks, and running again adds none", function()
  local role = "每周探访" .. new_phone():sub(-4)
  local r = T.request{ method = "POST", path = "/staff/plans", user = STAFF, form = {
    title = "每周探访独居老人", role = role, resident_name = "孙桂芝", resident_address = "幸福里7号楼101",
    weekday = "3", start = "09:00", ["end"] = "10:30", headcount = "1" } }
  T.eq(r.status, 303, r.body:sub(1, 300))
  local added = tonumber(r.location:match("added=(%d+)"))
  -- 4 weeks from today: 4 Wednesdays, or 3 when today's is already past 09:00
  T.ok(added == 4 or added == 3, "added " .. tostring(added))
  T.eq(count_role(coverage(), role), added)
  local again = T.request{ method = "POST", path = "/staff/plans/generate", user = STAFF }
  T.eq(again.status, 303)
  T.eq(again.location, "/p/volunteers/staff/plans?added=0")
  T.eq(T.request{ method = "POST", path = "/plans/generate", api = true, user = STAFF }.json.added, 0)
  T.jobs("daily")
  T.jobs("daily")
  T.eq(count_role(coverage(), role), added, "the daily job adds none either")
  for _, s in ipairs(coverage()) do
    if s.role == role then
      T.eq(s.kind, "visit")
      T.eq(s.starts_at:sub(12), "09:00:00")
      T.eq(s.ends_at:sub(12), "10:30:00")
    end
  end
end)

T.test("a longer horizon adds only the missing weeks", function()
  local role = "每周探访" .. new_phone():sub(-4)
  local r = T.request{ method = "POST", path = "/staff/plans", user = STAFF, form = {
    title = "周五陪老人买菜", role = role, resident_name = "钱大爷", resident_address = "和平路3号",
    weekday = "5", start = "15:00", ["end"] = "16:00", headcount = "1" } }
  T.eq(r.status, 303)
  local added = tonumber(r.location:match("added=(%d+)"))
  T.eq(count_role(coverage(), role), added)
  T.config{ plan_weeks = 6 }
  local more = T.request{ method = "POST", path = "/plans/generate", api = true, user = STAFF }.json.added
  T.config{ plan_weeks = 4 }
  T.ok(more >= 2, "weeks 5 and 6 of every plan")
  T.eq(count_role(coverage(), role), added + 2, "two more Fridays for this plan")
end)

T.test("a plan with an end before its start is refused", function()
  local r = T.request{ method = "POST", path = "/staff/plans", user = STAFF, form = {
    title = "错的计划", role = "探访", resident_name = "李奶奶", resident_address = "某处", weekday = "1",
    start = "10:00", ["end"] = "09:00", headcount = "1" } }
  T.eq(r.status, 422)
  T.match(r.body, "结束时间要晚于开始时间")
end)
