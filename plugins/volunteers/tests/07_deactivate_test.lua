-- 07_deactivate_test.lua - staff switch a volunteer off and on again: no sign-ups, no shifts
-- offered, no texts, the login disabled; the shifts still ahead listed for reassignment.
local db = portal.db

local function volunteer_page(vol)
  local r = T.request{ path = "/staff/volunteers/" .. vol.id, user = STAFF }
  T.eq(r.status, 200, r.body:sub(1, 300))
  return r
end

local function switch(vol, action, user)
  return T.request{ method = "POST", path = "/staff/volunteers/" .. vol.id .. "/" .. action, user = user or STAFF }
end

T.test("a deactivated volunteer cannot sign up, is not offered or called, and cannot log in", function()
  local day = day_in(11)
  local wd = tostring(tonumber(portal.time.date("%u", portal.time.parse(day))))
  local v = new_volunteer{ name = "停用测试", skills = { "repair" }, days = { wd }, parts = { "am" } }
  local user_id = db.get("volunteers", v.id).user_id
  local ahead = new_shift{ day = day, start = "09:00", ["end"] = "10:00", role = "修小家电" }
  local later = new_shift{ day = day, start = "11:00", ["end"] = "11:30", role = "修收音机", skill = "repair" }
  T.eq(signup(v, ahead).status, 303)
  T.eq(volunteer_page(v).data.v.can_deactivate, true)
  T.eq(T.request{ method = "POST", path = "/staff/volunteers/" .. v.id .. "/deactivate", user = STAFF, csrf = false }.status,
       403, "CSRF checked")
  T.eq(T.request{ method = "POST", path = "/staff/volunteers/" .. v.id .. "/deactivate", user = v.user }.status,
       403, "volunteers cannot switch anyone off")

  local r = switch(v, "deactivate")
  T.eq(r.status, 303, r.body)
  T.eq(r.location, "/p/volunteers/staff/volunteers/" .. v.id .. "?done=deactivated")
  local row = db.get("volunteers", v.id)
  T.eq(row.status, "inactive")
  T.ok(row.inactive_since, "when it was switched off")
  T.eq(row.inactive_by, STAFF.username)
  T.eq(portal.accounts.get(user_id).disabled, true, "the login is disabled")
  T.eq(switch(v, "deactivate").status, 409, "twice is refused")

  -- the page says so and lists the shift ahead for staff to reassign
  local page = volunteer_page(v)
  T.match(page.body, "已停用")
  T.eq(#page.data.future, 1)
  T.eq(page.data.future[1].id, ahead)
  T.match(page.body, 'href="/p/volunteers/staff/shifts/' .. ahead .. '"')
  T.eq(page.data.v.can_reactivate, true)
  -- the shift's roster flags them; no other shift offers them
  local sh = T.request{ path = "/staff/shifts/" .. ahead, user = STAFF }
  T.match(sh.body, "已停用，请另找人")
  local offered = false
  for _, c in ipairs(staff_shift(later).choices) do
    offered = offered or c.id == v.id
  end
  T.ok(not offered, "not offered on another shift")
  T.eq(assign(v, later).status, 403, "staff cannot assign them either")
  -- no sign-up of their own (were they still signed in), no call for help, no reminder
  local s = signup(v, later)
  T.ok(s.status >= 400, "sign-up refused: " .. s.status)
  T.eq(db.count("assignments", { shift_id = later, volunteer_id = v.id }), 0)
  T.eq(T.request{ method = "POST", path = "/staff/shifts/" .. later .. "/call", user = STAFF }.status, 303)
  T.eq(db.count("messages", { shift_id = later, volunteer_id = v.id }), 0, "not called")
  -- (the audit entries are checked through nginx: tests/integration/volunteers.test.mjs)
end)

T.test("a deactivated volunteer is switched on again, login and sign-up included", function()
  local v = new_volunteer{ name = "恢复测试" }
  local user_id = db.get("volunteers", v.id).user_id
  local id = new_shift{ day = day_in(12), role = "恢复后报名" }
  T.eq(switch(v, "reactivate").status, 409, "an active volunteer is not switched on")
  T.eq(switch(v, "deactivate").status, 303)
  T.ok(signup(v, id).status >= 400)
  local r = switch(v, "reactivate")
  T.eq(r.status, 303, r.body)
  T.match(r.location, "done=reactivated")
  local row = db.get("volunteers", v.id)
  T.eq(row.status, "active")
  T.eq(row.inactive_since, nil)
  T.eq(portal.accounts.get(user_id).disabled, false, "the login works again")
  T.eq(signup(v, id).status, 303, "signs up again")
  T.eq(switch({ id = 999999 }, "deactivate").status, 404)
end)
