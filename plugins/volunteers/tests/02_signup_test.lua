-- 02_signup_test.lua - signing up and withdrawing: skill, overlap, cut-off, headcount.

T.test("a volunteer signs up for an open shift and sees it as theirs", function()
  local v = new_volunteer()
  local id = new_shift{ role = "协助测血压" }
  T.ok(find(me(v).open, "id", id), "listed as open")
  local r = signup(v, id)
  T.eq(r.status, 303)
  T.match(r.location, "done=signed")
  local data = me(v)
  T.ok(find(data.mine, "id", id), "now among their shifts")
  T.ok(not find(data.open, "id", id), "no longer offered")
  T.eq(signup(v, id).status, 409, "twice is refused")
  T.eq(staff_shift(id).shift.taken, 1)
end)

T.test("overlapping shifts are refused; back-to-back ones are fine", function()
  local v = new_volunteer()
  local a = new_shift{ day = day_in(3), start = "09:00", ["end"] = "11:00" }
  local b = new_shift{ day = day_in(3), start = "10:30", ["end"] = "12:00" }
  local c = new_shift{ day = day_in(3), start = "11:00", ["end"] = "12:00" }
  local d = new_shift{ day = day_in(3), start = "08:00", ["end"] = "13:00" }
  T.eq(signup(v, a).status, 303)
  local r = signup(v, b)
  T.eq(r.status, 409)
  T.match(r.body, "同一时间只能参加一个")
  T.eq(signup(v, d).status, 409, "a shift around it overlaps too")
  T.eq(signup(v, c).status, 303, "starting when the other ends is no overlap")
  -- staff cannot double-book either
  T.eq(assign(v, b).status, 409)
  T.eq(staff_shift(b).shift.taken, 0)
end)

T.test("a shift that needs a skill is only for volunteers who have it", function()
  local nurse = new_volunteer{ skills = { "medical" } }
  local other = new_volunteer{ skills = { "driving" } }
  local id = new_shift{ role = "义诊帮手", skill = "medical" }
  T.ok(not find(me(other).open, "id", id), "not offered without the skill")
  local r = signup(other, id)
  T.eq(r.status, 403)
  T.match(r.body, "医护或急救")
  T.eq(assign(other, id).status, 403, "staff cannot assign without the skill either")
  T.ok(find(me(nurse).open, "id", id), "offered with the skill")
  T.eq(signup(nurse, id).status, 303)
  local api = T.request{ path = "/shifts", api = true, user = other.user }
  T.eq(api.status, 200)
  T.ok(not find(api.json.shifts, "id", id), "the JSON list leaves it out too")
end)

T.test("sign-up and withdrawal close before the cut-off; staff can still change it", function()
  local v = new_volunteer()
  local id = soon_shift{ role = "临时帮手" }
  local r = signup(v, id)
  T.eq(r.status, 409)
  T.match(r.body, "报名和退出在班次开始前12小时截止")
  T.ok(find(me(v).open, "id", id).closed, "shown as closed on the page")
  T.eq(assign(v, id).status, 303, "staff may assign after the cut-off")
  r = withdraw(v, id)
  T.eq(r.status, 409)
  T.match(r.body, "截止")
  T.eq(T.request{ method = "POST", path = "/staff/shifts/" .. id .. "/unassign", user = STAFF,
                  form = { volunteer_id = tostring(v.id) } }.status, 303)
  T.eq(staff_shift(id).shift.taken, 0)
end)

T.test("the cut-off is a setting", function()
  T.config{ cutoff_hours = 0 }
  local v = new_volunteer()
  local id = soon_shift()
  T.eq(signup(v, id).status, 303, "open until the start with a cut-off of 0")
  T.eq(withdraw(v, id).status, 303)
  T.config{ cutoff_hours = 12 }
  T.eq(signup(v, id).status, 409)
end)

T.test("withdrawing before the cut-off frees the place", function()
  local a, b = new_volunteer(), new_volunteer()
  local id = new_shift{ headcount = "1" }
  T.eq(signup(a, id).status, 303)
  T.eq(signup(b, id).status, 409, "full")
  local r = withdraw(a, id)
  T.eq(r.status, 303)
  T.match(r.location, "done=withdrawn")
  T.eq(withdraw(a, id).status, 409, "not on it any more")
  T.eq(signup(b, id).status, 303, "the place is free again")
end)

T.test("the last place goes to one volunteer only", function()
  local first, second, third = new_volunteer(), new_volunteer(), new_volunteer()
  local id = new_shift{ headcount = "2" }
  T.eq(signup(first, id).status, 303)
  T.eq(assign(second, id).status, 303)
  local r = signup(third, id)
  T.eq(r.status, 409)
  T.match(r.body, "人数已经满了")
  T.eq(assign(third, id).status, 409, "staff cannot overfill it either")
  T.ok(not find(me(third).open, "id", id), "a full shift is not offered")
  T.eq(staff_shift(id).shift.taken, 2)
end)

T.test("the JSON API signs up and answers refusals in the error shape", function()
  local v = new_volunteer()
  local id = new_shift{ headcount = "1" }
  local r = T.request{ method = "POST", path = "/shifts/" .. id .. "/signup", api = true, user = v.user }
  T.eq(r.status, 201)
  T.eq(r.json.shift_id, id)
  local w = new_volunteer()
  r = T.request{ method = "POST", path = "/shifts/" .. id .. "/signup", api = true, user = w.user }
  T.eq(r.status, 409)
  T.eq(r.json.error.code, "full")
  r = T.request{ method = "POST", path = "/shifts/999999/signup", api = true, user = w.user }
  T.eq(r.status, 404)
end)

T.test("a shift already started cannot be signed up for", function()
  local v = new_volunteer()
  T.config{ cutoff_hours = 0 }
  local id = new_shift{ day = day_in(-1) }
  local r = signup(v, id)
  T.eq(r.status, 409)
  T.match(r.body, "已经开始或结束")
  T.config{ cutoff_hours = 12 }
end)
