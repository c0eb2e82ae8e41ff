-- 06_messages_test.lua - reminders the day before, and calls for help from the coverage
-- view; each message once, however often the job runs or staff click.

T.test("the hourly job reminds everyone on tomorrow's shifts once", function()
  local a, b = new_volunteer(), new_volunteer()
  local id = new_shift{ day = day_in(1), start = "09:00", ["end"] = "11:00" }
  local later = new_shift{ day = day_in(3) }
  assign(a, id)
  assign(b, id)
  assign(a, later)
  T.jobs("hourly")
  T.eq(staff_shift(id).reminded, 2)
  T.jobs("hourly")
  T.eq(staff_shift(id).reminded, 2, "running again sends nothing new")
  T.eq(staff_shift(later).reminded, 0, "not before the day before")
end)

T.test("coverage: shortfall per shift, colour-coded", function()
  local v = new_volunteer()
  local empty = new_shift{ day = day_in(8), headcount = "3" }
  local part = new_shift{ day = day_in(8), start = "14:00", ["end"] = "15:00", headcount = "3" }
  local full = new_shift{ day = day_in(8), start = "16:00", ["end"] = "17:00", headcount = "1" }
  local w, x = new_volunteer(), new_volunteer()
  assign(v, part)
  assign(w, part)
  assign(x, full)
  local r = T.request{ path = "/staff/coverage", user = STAFF, query = { weeks = "2" } }
  T.eq(r.status, 200)
  local e, p, f = find(r.data.rows, "id", empty), find(r.data.rows, "id", part), find(r.data.rows, "id", full)
  T.eq(e.missing, 3)
  T.eq(e.level, "short")
  T.eq(p.missing, 1)
  T.eq(p.level, "low")
  T.eq(f.missing, 0)
  T.eq(f.level, "ok")
  T.match(r.body, "notice%-error")
  T.match(r.body, "缺 3 人")
end)

T.test("one click messages qualified, free volunteers once", function()
  local day = day_in(9)
    local id = new_shift{ day = day, start = "09:00", ["end"] = "10:00", skill = "driving", headcount = "2" }
  local wd = tostring(tonumber(portal.time.date("%u", portal.time.parse(day))))
  local free = new_volunteer{ skills = { "driving" }, days = { wd }, parts = { "am" } }
  local afternoon = new_volunteer{ skills = { "driving" }, days = { wd }, parts = { "pm" } }
  local unskilled = new_volunteer{ days = { wd } }
  local other_day = wd == "1" and "2" or "1"
  local driver = new_volunteer{ skills = { "driving" }, days = { other_day } }
  local busy = new_volunteer{ skills = { "driving" } }
  local clash = new_shift{ day = day, start = "09:30", ["end"] = "10:30" }
  assign(busy, clash)
  local r = T.request{ method = "POST", path = "/staff/shifts/" .. id .. "/call", user = STAFF }
  T.eq(r.status, 303)
  local sent = tonumber(r.location:match("called=(%d+)"))
  -- "free" is asked; the afternoon, unskilled and busy ones are not; volunteers of
  -- other tests with driving and no days ticked may be asked too
  T.ok(sent >= 1, "at least the free driver")
  T.eq(staff_shift(id).called, sent)
  r = T.request{ method = "POST", path = "/staff/shifts/" .. id .. "/call", user = STAFF }
  T.eq(r.location, "/p/volunteers/staff/coverage?called=0", "a second click sends nothing new")
  -- who was asked (portal.db works in test bodies): the free driver, none of the others
  local asked = {}
  for _, m in ipairs(portal.db.find("messages", { shift_id = id, kind = "call" })) do
    asked[m.volunteer_id] = true
  end
  T.ok(asked[free.id], "the free driver is asked")
  T.ok(not asked[afternoon.id], "not someone free only in the afternoon")
  T.ok(not asked[unskilled.id], "not someone without the skill")
  T.ok(not asked[busy.id], "not someone on another shift then")
  T.ok(not asked[driver.id], "not someone free only on other days")
end)
