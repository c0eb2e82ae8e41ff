-- staff_test.lua - the list of names is for staff only, with phone numbers masked.

local STAFF = { roles = { "staff" } }

T.test("residents are sent to the login page", function()
  local r = T.request{ path = "/list" }
  T.eq(r.status, 303)
  T.match(r.location, "^/login")
end)

T.test("an administrator without the staff role is refused", function()
  T.eq(T.request{ path = "/list", user = { roles = { "admin" } } }.status, 403)
end)

T.test("staff see every name with the phone number masked", function()
  local r = T.request{ method = "POST", path = "/",
                       form = { name = "赵玉兰", phone = "13700001234", age_band = "90_plus",
                                home_visit = "true", address = "8号楼101", consent = "true" } }
  T.eq(r.status, 200)
  local list = T.request{ path = "/list", user = STAFF }
  T.eq(list.status, 200)
  T.eq(list.template, "haircut_list")
  T.match(list.body, "赵玉兰")
  T.match(list.body, "137%*%*%*%*1234")
  T.match(list.body, "90岁及以上")
  T.ok(not list.body:find("13700001234"), "no full phone number on the page")
  local last = list.data.rows[#list.data.rows]
  T.eq(last.name, "赵玉兰")
  T.eq(last.home_visit, true)
  T.eq(list.data.count, #list.data.rows)
end)

T.test("when every place is taken, the page says so and nothing more is stored", function()
  for i = 1, portal.config.capacity do
    local r = T.request{ method = "POST", path = "/",
                         form = { name = "孙老人", phone = string.format("1360000%04d", i),
                                  age_band = "60_69", home_visit = "false", consent = "true" } }
    if r.status == 409 then
      break
    end
    T.eq(r.status, 200)
  end
  local r = T.request{ method = "POST", path = "/",
                       form = { name = "周老人", phone = "13500000000", age_band = "60_69",
                                home_visit = "false", consent = "true" } }
  T.eq(r.status, 409)
  T.match(r.body, "名额已经满了")
  T.match(T.request{ path = "/" }.body, "名额已经满了")
  local list = T.request{ path = "/list", user = STAFF }
  T.eq(list.data.count, portal.config.capacity)
end)
