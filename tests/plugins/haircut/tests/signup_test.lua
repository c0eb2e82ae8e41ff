-- signup_test.lua - a resident signs up an elderly person on the public page.
-- Every test uses its own phone numbers: the throwaway tables live for the whole run.

-- A complete, valid sign-up; pass fields to change some of it.
local function person(changes)
  local form = { name = "王秀英", phone = "13900000001", age_band = "70_79",
                 home_visit = "false", consent = "true" }
  for k, v in pairs(changes or {}) do
    form[k] = v
  end
  return form
end

local function sign_up(changes)
  return T.request{ method = "POST", path = "/", form = person(changes) }
end

T.test("the page shows the day, the place and the form", function()
  local r = T.request{ path = "/" }
  T.eq(r.status, 200)
  T.eq(r.template, "haircut_form")
  T.eq(#r.data.fields, 6, "six fields")
  T.match(r.body, "免费理发")
  T.match(r.body, "6月15日（星期日）")
  T.match(r.body, 'name="csrf"')
  T.match(r.body, 'name="age_band"')
end)

T.test("a complete sign-up is stored and confirmed", function()
  local r = sign_up{ phone = "13900000101" }
  T.eq(r.status, 200)
  T.eq(r.template, "haircut_done")
  T.eq(math.type(r.data.id), "integer", "the confirmation shows the sign-up number")
  T.match(r.body, "139%*%*%*%*0101")
  T.ok(not r.body:find("13900000101"), "the full number is not shown")
  T.match(r.body, "社区活动室")
  local list = T.request{ path = "/list", user = { roles = { "staff" } } }
  T.match(list.body, "139%*%*%*%*0101")
end)

T.test("a home visit needs an address, and then keeps it", function()
  local r = sign_up{ phone = "13900000201", home_visit = "true" }
  T.eq(r.status, 422)
  T.match(r.body, "请填写上门地址")
  T.eq(r.data.fields[2].value, "13900000201", "what was typed is shown again")
  r = sign_up{ phone = "13900000201", home_visit = "true", address = "5号楼2单元301" }
  T.eq(r.status, 200)
  T.match(r.body, "上门")
  local list = T.request{ path = "/list", user = { roles = { "staff" } } }
  T.match(list.body, "5号楼2单元301")
end)

T.test("an address sent without a home visit is not kept", function()
  local r = sign_up{ phone = "13900000301", address = "不该保存的地址" }
  T.eq(r.status, 200)
  local list = T.request{ path = "/list", user = { roles = { "staff" } } }
  local found
  for _, row in ipairs(list.data.rows) do
    if row.id == r.data.id then
      found = row
    end
  end
  T.ok(found, "the sign-up is in the list")
  T.eq(found.home_visit, false)
  T.eq(found.address, "", "no address stored")
end)

T.test("without consent nothing is stored", function()
  local r = sign_up{ phone = "13900000401", consent = "" }
  T.eq(r.status, 422)
  T.match(r.body, "请勾选我同意社区用上面的信息安排理发")
  local list = T.request{ path = "/list", user = { roles = { "staff" } } }
  T.ok(not list.body:find("0401"), "not in the list")
end)

T.test("a wrong phone number is explained", function()
  local r = sign_up{ phone = "1390000" }
  T.eq(r.status, 422)
  T.match(r.body, "联系电话格式不正确")
  T.match(r.body, "有几处需要改一下")
end)

T.test("digits in the name are caught by the form's own check", function()
  local r = sign_up{ phone = "13900000501", name = "王秀英13900000501" }
  T.eq(r.status, 422)
  T.match(r.body, "姓名里不要填数字")
end)

T.test("one phone number signs up once", function()
  T.eq(sign_up{ phone = "13900000601" }.status, 200)
  local r = sign_up{ phone = "13900000601", name = "李桂兰" }
  T.eq(r.status, 409)
  T.match(r.body, "这个电话已经报过名了")
end)

T.test("a form sent from another site is refused", function()
  local r = T.request{ method = "POST", path = "/", form = person{ phone = "13900000701" }, csrf = false }
  T.eq(r.status, 403)
end)
