-- 05_privacy_test.lua - a volunteer sees a resident's name and address only for a visit
-- they are on, and never the resident's phone; visit notes and concerns.

local ADDRESS = "幸福里5号楼2单元302"
local RESIDENT_PHONE = "13600001111"

local function visit(fields)
  local f = { kind = "visit", role = "探访独居老人", resident_name = "孙秀兰", resident_address = ADDRESS,
              resident_phone = RESIDENT_PHONE, headcount = "2" }
  for k, v in pairs(fields or {}) do
    f[k] = v
  end
  return new_shift(f)
end

T.test("the volunteer on a visit sees name and address, never the resident's phone", function()
  local mine = new_volunteer()
  local id = visit{ day = day_in(4) }
  local before = select(2, me(mine))
  T.ok(not before:find(ADDRESS, 1, true), "no address before signing up")
  T.ok(not before:find("孙秀兰", 1, true), "no name before signing up")
  T.match(before, "报名后可以看到地址")
  T.eq(signup(mine, id).status, 303)
  local _, body = me(mine)
  T.ok(body:find(ADDRESS, 1, true), "the address is on their page")
  T.ok(body:find("孙秀兰", 1, true))
  T.ok(not body:find(RESIDENT_PHONE, 1, true), "the resident's phone is not")
  local page = T.request{ path = "/shifts/" .. id, user = mine.user }
  T.eq(page.status, 200)
  T.ok(page.body:find(ADDRESS, 1, true))
  T.ok(not page.body:find(RESIDENT_PHONE, 1, true))
  -- staff see all of it
  local st = T.request{ path = "/staff/shifts/" .. id, user = STAFF }
  T.ok(st.body:find(RESIDENT_PHONE, 1, true), "staff see the phone to call")
end)

T.test("another volunteer sees neither the address nor the name of someone else's visit", function()
  local mine, other = new_volunteer(), new_volunteer()
  local id = visit{ day = day_in(5) }
  T.eq(signup(mine, id).status, 303)
  local data, body = me(other)
  local offered = find(data.open, "id", id)
  T.ok(offered, "the visit still needs a second person")
  T.eq(offered.resident_address, "")
  T.eq(offered.resident_name, "")
  T.ok(not body:find(ADDRESS, 1, true), "not on the other volunteer's page")
  T.ok(not body:find("孙秀兰", 1, true))
  T.ok(not body:find(RESIDENT_PHONE, 1, true))
  local page = T.request{ path = "/shifts/" .. id, user = other.user }
  T.eq(page.status, 404, "someone else's visit is not shown")
  T.ok(not page.body:find(ADDRESS, 1, true))
  local api = T.request{ path = "/shifts", api = true, user = other.user }
  T.ok(not api.body:find(ADDRESS, 1, true), "nor in the JSON list")
  T.ok(not api.body:find(RESIDENT_PHONE, 1, true))
  local note = T.request{ path = "/shifts/" .. id .. "/note", user = other.user }
  T.eq(note.status, 409, "and they cannot write its note")
  -- once they withdraw, the volunteer who was on it no longer sees it either
  T.eq(withdraw(mine, id).status, 303)
  T.ok(not select(2, me(mine)):find(ADDRESS, 1, true))
end)

T.test("a visit note with a concern shows on the staff dashboard until handled", function()
  local v = new_volunteer{ name = "记录员" }
  local id = visit{ day = day_in(-1), start = "09:00", ["end"] = "10:00" }
  T.eq(assign(v, id).status, 303)
  local page = T.request{ path = "/shifts/" .. id .. "/note", user = v.user }
  T.eq(page.status, 200)
  T.match(page.body, ADDRESS)
  local empty = T.request{ method = "POST", path = "/shifts/" .. id .. "/note", user = v.user, form = { concern = "x" } }
  T.eq(empty.status, 422)
  local r = T.request{ method = "POST", path = "/shifts/" .. id .. "/note", user = v.user, form = {
    done_text = "打扫了厨房，陪老人聊天。", concern = "老人说最近总头晕，药快吃完了。" } }
  T.eq(r.status, 303)
  local dash = T.request{ path = "/staff", user = STAFF }
  T.eq(dash.status, 200)
  local c = find(dash.data.concerns, "shift_id", id)
  T.ok(c, "the concern is on the dashboard")
  T.match(c.concern, "头晕")
  T.eq(c.volunteer, "记录员")
  T.eq(T.request{ method = "POST", path = "/staff/notes/" .. c.id .. "/handled", user = STAFF }.status, 303)
  T.ok(not find(T.request{ path = "/staff", user = STAFF }.data.concerns, "shift_id", id), "gone once handled")
  T.eq(T.request{ method = "POST", path = "/staff/notes/" .. c.id .. "/handled", user = STAFF }.status, 404)
end)

T.test("a note without a concern does not reach the dashboard; notes wait for the visit", function()
  local v = new_volunteer()
  local past = visit{ day = day_in(-2) }
  assign(v, past)
  T.eq(T.request{ method = "POST", path = "/shifts/" .. past .. "/note", user = v.user,
                  form = { done_text = "买了菜。" } }.status, 303)
  T.ok(not find(T.request{ path = "/staff", user = STAFF }.data.concerns, "shift_id", past))
  local future = visit{ day = day_in(6) }
  T.eq(signup(v, future).status, 303)
  T.eq(T.request{ path = "/shifts/" .. future .. "/note", user = v.user }.status, 409)
end)
