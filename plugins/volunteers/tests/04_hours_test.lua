-- 04_hours_test.lua - attendance after a shift, no-shows, totals, certificate, CSV.

local function confirm(shift_id, vol, attendance, hours)
  return T.request{ method = "POST", path = "/staff/shifts/" .. shift_id .. "/attendance", user = STAFF,
                    form = { volunteer_id = tostring(vol.id), attendance = attendance, hours = hours } }
end

local function totals_of(vol, from, to)
  local r = T.request{ path = "/staff/hours", user = STAFF, query = { from = from, to = to } }
  T.eq(r.status, 200)
  return find(r.data.rows, "volunteer_id", vol.id), r
end

T.test("attendance is confirmed only once the shift has started", function()
  local v = new_volunteer()
  local id = new_shift{}
  T.eq(signup(v, id).status, 303)
  local r = confirm(id, v, "present", "2")
  T.eq(r.status, 409)
  T.match(r.body, "开始以后")
end)

T.test("present with hours, no-show with none: totals per period and per volunteer", function()
  local a, b = new_volunteer{ name = "甲志愿者" }, new_volunteer{ name = "乙志愿者" }
  local s1 = new_shift{ day = day_in(-3), start = "09:00", ["end"] = "11:00" }
  local s2 = new_shift{ day = day_in(-2), start = "14:00", ["end"] = "16:00" }
  for _, s in ipairs{ s1, s2 } do
    T.eq(assign(a, s).status, 303, "staff record who was on a past shift")
    T.eq(assign(b, s).status, 303)
  end
  local roster = staff_shift(s1).roster
  T.eq(find(roster, "volunteer_id", a.id).hours, "2", "the scheduled length is offered")
  T.eq(confirm(s1, a, "present", "2.5").status, 303)
  T.eq(confirm(s2, a, "present", "1.5").status, 303)
  T.eq(confirm(s1, b, "no_show", "").status, 303)
  T.eq(confirm(s2, b, "present", "2").status, 303)
  -- a correction replaces, never adds
  T.eq(confirm(s2, b, "no_show", "").status, 303)
  local bad = confirm(s1, a, "present", "两小时")
  T.eq(bad.status, 422)
  T.match(bad.body, "时长请填数字")
  T.eq(confirm(s1, a, "maybe", "2").status, 422)

  local from, to = day_in(-7), day_in(0)
  local ta = totals_of(a, from, to)
  T.eq(ta.hours, "4")
  T.eq(ta.present, 2)
  T.eq(ta.no_shows, 0)
  local tb = totals_of(b, from, to)
  T.eq(tb.hours, "0", "no-shows count no hours")
  T.eq(tb.no_shows, 2)
  T.eq(tb.present, 0)
  -- another period leaves them out
  T.ok(not totals_of(a, day_in(-30), day_in(-10)), "nothing before the shifts")
  -- the volunteer sees their own record
  local mine = me(b)
  T.eq(find(mine.past, "id", s1).attendance, "未到")
  T.eq(mine.total_hours, "0")
  T.eq(me(a).total_hours, "4")
end)

T.test("the certificate lists the shifts attended and the total; CSV has the totals", function()
  local v = new_volunteer{ name = "证明测试" }
  local s1 = new_shift{ day = day_in(-5), role = "社区义诊引导", start = "08:00", ["end"] = "12:00" }
  local s2 = new_shift{ day = day_in(-4), role = "上门打扫", start = "09:00", ["end"] = "10:00" }
  assign(v, s1)
  assign(v, s2)
  confirm(s1, v, "present", "3.5")
  confirm(s2, v, "no_show", "")
  local r = T.request{ path = "/staff/volunteers/" .. v.id .. "/certificate", user = STAFF,
                       query = { from = day_in(-10), to = day_in(0) } }
  T.eq(r.status, 200)
  T.eq(r.data.total, "3.5")
  T.eq(r.data.count, 1, "the no-show is not on the certificate")
  T.match(r.body, "证明测试")
  T.match(r.body, "社区义诊引导")
  T.ok(not r.body:find("上门打扫"), "no-show shift left out")
  T.match(r.body, "/static/signin.css", "the print stylesheet")
  local csv = T.request{ path = "/staff/hours.csv", user = STAFF, query = { from = day_in(-10), to = day_in(0) } }
  T.eq(csv.status, 200)
  T.match(csv.body, "^\239\187\191", "UTF-8 with BOM for spreadsheets")
  T.match(csv.body, "证明测试,[^\r\n]*,1,3%.5,1\r\n")
  T.ok(not csv.body:find(v.phone), "phones masked in the export")
end)
