-- staff_test.lua - who may see what: the staff pages need the staff (or admin) role, health
-- data also the grant "outreach.health"; follow-ups and the yearly summary.
-- (Pages of real outreach days need core events: tests/integration/outreach.test.mjs.)
local staff = require("lib.staff")

local STAFF = { roles = { "staff" }, username = "desk1" }
local HEALTH = { roles = { "staff" }, grants = { "health" }, username = "nurse1" }

T.test("residents are sent to the login page, other roles are refused", function()
  local r = T.request{ path = "/days" }
  T.eq(r.status, 303)
  T.match(r.location, "^/login")
  T.eq(T.request{ path = "/days", user = { roles = { "grid" } } }.status, 403)
  T.eq(T.request{ path = "/days", user = STAFF }.status, 200)
  T.eq(T.request{ path = "/days", user = { roles = { "admin" } } }.status, 200)
end)

T.test("health routes need the grant, not just the role", function()
  T.eq(T.request{ path = "/days/1/readings/ABCDEF", user = STAFF }.status, 403)
  T.eq(T.request{ method = "POST", path = "/days/1/readings/ABCDEF", user = STAFF,
                  form = { systolic = "150", diastolic = "95", consent = "true" } }.status, 403)
  T.eq(T.request{ path = "/readings/1/slip", user = STAFF }.status, 403)
  T.eq(T.request{ method = "POST", path = "/followups/1/done", user = STAFF }.status, 403)
  -- with the grant, an unknown day or code is simply not found
  T.eq(T.request{ path = "/days/999999999/readings/ABCDEF", user = HEALTH }.status, 404)
  T.eq(T.request{ method = "POST", path = "/days/999999999/readings/ABCDEF", user = HEALTH,
                  form = { systolic = "150", diastolic = "95", consent = "true" } }.status, 404)
end)

T.test("a day that is not an outreach day is not found", function()
  T.eq(T.request{ path = "/days/999999999", user = STAFF }.status, 404)
  T.eq(T.request{ path = "/days/999999999/print", user = STAFF }.status, 404)
end)

T.test("an abnormal reading opens one follow-up; health staff mark it done", function()
  local ev = { id = 920001, ends_at = portal.time.date("%Y-%m-%d %H:%M:%S") }
  T.eq(staff.store(ev, "FUTST1", { systolic = 118, diastolic = 76, consent = true }, "nurse1"), false)
  T.eq(#portal.db.find("followups", { event_id = ev.id }), 0, "normal: nothing to follow up")
  T.eq(staff.store(ev, "FUTST1", { systolic = 152, diastolic = 96, consent = true }, "nurse1"), true)
  T.eq(staff.store(ev, "FUTST1", { systolic = 148, diastolic = 94, consent = true }, "nurse1"), true)
  local fus = portal.db.find("followups", { event_id = ev.id })
  T.eq(#fus, 1, "one open item per resident and day")
  T.match(fus[1].reason, "血压 152/96")
  local rd = portal.db.get("readings", fus[1].reading_id)
  T.match(rd.referral_note, "建议您在两周内")
  T.eq(T.request{ method = "POST", path = "/followups/" .. fus[1].id .. "/done", user = STAFF }.status, 403)
  local r = T.request{ method = "POST", path = "/followups/" .. fus[1].id .. "/done", user = HEALTH }
  T.eq(r.status, 303)
  T.match(r.location, "^/p/outreach/days/920001")
  local f = portal.db.get("followups", fus[1].id)
  T.eq(f.status, "done")
  T.eq(f.done_by, "nurse1")
  T.eq(T.request{ method = "POST", path = "/followups/" .. fus[1].id .. "/done", user = HEALTH, csrf = false }.status,
       403, "CSRF checked")
end)

T.test("the yearly summary is a CSV with a header and a total per kind", function()
  local r = T.request{ path = "/summary.csv", query = { year = "2026" }, user = STAFF }
  T.eq(r.status, 200)
  T.match(r.body, "^\239\187\191年度,活动类型,活动,日期,报名人数,到场人数,异常转诊,随访已完成\r\n")
  T.match(r.body, "2026,孕前优生健康检查,合计,共%d+场")
  T.match(r.body, "2026,血压血糖免费检测,合计,共%d+场")
  T.eq(T.request{ path = "/summary.csv", query = { year = "20x6" }, user = STAFF }.status, 400)
  T.eq(T.request{ path = "/summary.csv" }.status, 303)
end)
