-- 01_join_test.lua - applying on the public page, staff approval and the login it makes.

T.test("a resident applies; nothing is shown to the public but a thank-you", function()
  local phone = new_phone()
  local r = T.request{ method = "POST", path = "/", form = { name = "周晓梅", phone = phone,
                       skills = { "medical", "driving" }, days = { "2", "4" }, parts = { "am" }, consent = "true" } }
  T.eq(r.status, 200)
  T.eq(r.template, "volunteers_joined")
  T.ok(not r.body:find(phone), "the full number is not shown back")
  local again = T.request{ method = "POST", path = "/", form = { name = "周晓梅", phone = phone, consent = "true" } }
  T.eq(again.status, 409)
  T.match(again.body, "已经报过名了")
end)

T.test("without consent the application is refused with a message", function()
  local r = T.request{ method = "POST", path = "/", form = { name = "吴刚", phone = new_phone() } }
  T.eq(r.status, 422)
  T.match(r.body, "请勾选")
end)

T.test("staff approve an application: a volunteer login with a one-time password", function()
  local phone = new_phone()
  T.eq(T.request{ method = "POST", path = "/", form = { name = "郑丽", phone = phone, skills = { "cleaning" },
                  consent = "true" } }.status, 200)
  local list = T.request{ path = "/staff/volunteers", user = STAFF }
  T.eq(list.status, 200)
  local app = find(list.data.pending, "name", "郑丽")
  T.ok(app, "the application waits for review")
  T.eq(app.phone, portal.mask.phone(phone), "phone masked in the list")
  local r = T.request{ method = "POST", path = "/staff/volunteers/" .. app.id .. "/approve", user = STAFF }
  T.eq(r.status, 200, r.body:sub(1, 300))
  T.eq(r.data.username, "v" .. phone)
  T.ok(#r.data.password >= 10)
  T.match(r.body, r.data.password, "the password is on the page once")
  local twice = T.request{ method = "POST", path = "/staff/volunteers/" .. app.id .. "/approve", user = STAFF }
  T.eq(twice.status, 409, "approving twice makes no second account")
  local data = me({ user = { roles = { "volunteer" }, username = r.data.username } })
  T.eq(data.name, "郑丽")
  T.match(data.skills, "家政保洁")
end)

T.test("a rejected application is deleted", function()
  local phone = new_phone()
  T.request{ method = "POST", path = "/", form = { name = "冯强", phone = phone, consent = "true" } }
  local app = find(T.request{ path = "/staff/volunteers", user = STAFF }.data.pending, "name", "冯强")
  local r = T.request{ method = "POST", path = "/staff/volunteers/" .. app.id .. "/reject", user = STAFF }
  T.eq(r.status, 303)
  T.ok(not find(T.request{ path = "/staff/volunteers", user = STAFF }.data.pending, "name", "冯强"))
  -- and the same phone may apply again
  T.eq(T.request{ method = "POST", path = "/", form = { name = "冯强", phone = phone, consent = "true" } }.status, 200)
end)

T.test("volunteer pages need the volunteer role, staff pages the staff role", function()
  T.eq(T.request{ path = "/me" }.status, 303)
  T.eq(T.request{ path = "/me", user = STAFF }.status, 403)
  local v = new_volunteer()
  T.eq(T.request{ path = "/staff", user = v.user }.status, 403)
  T.eq(T.request{ path = "/staff/coverage", user = v.user }.status, 403)
  T.eq(T.request{ method = "POST", path = "/staff/volunteers", user = v.user,
                  form = { name = "黑客", phone = new_phone(), consent = "true" } }.status, 403)
end)

T.test("a volunteer login without a profile is told to ask staff", function()
  local r = T.request{ path = "/me", user = { roles = { "volunteer" }, username = "nobody_here" } }
  T.eq(r.status, 403)
  T.match(r.body, "联系社区工作人员")
end)
