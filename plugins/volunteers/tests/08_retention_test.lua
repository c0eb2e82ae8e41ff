-- 08_retention_test.lua - the daily job removes residents' data of old visits and
-- anonymises long-inactive volunteers, at the boundaries of the settings.
local db = portal.db
local C = require("lib.common")

local DAY = 86400

-- a visit that ended `ago` seconds ago, with a note by volunteer vid (concern open or not)
local function old_visit(ago, vid, concern_open)
  local ends = portal.time.now() - ago
  local id = assert(db.insert("shifts", {
    kind = "visit", role = "探访", place = "", resident_name = "留存" .. ago, resident_address = "留存路" .. ago .. "号",
    resident_phone = "13911112222", starts_at = C.at(ends - 3600), ends_at = C.at(ends), headcount = 1,
    skill = "", note = "", created_at = C.at(ends - 7200), created_by = "test" }))
  db.insert("notes", { shift_id = id, volunteer_id = vid, done_text = "打扫了厨房" .. ago,
                       concern = concern_open and "燃气有味道" or "", concern_open = concern_open and 1 or 0,
                       created_at = C.at(ends) })
  return id
end

local function note_of(shift_id)
  return db.find("notes", { shift_id = shift_id })[1]
end

T.test("visits ended more than visit_keep_days ago lose the resident's data and the notes' text", function()
  local v = new_volunteer{ name = "留存志愿者" }
  local N = portal.config.visit_keep_days
  T.eq(N, 365, "default a year")
  local gone = old_visit(N * DAY + 120, v.id)          -- two minutes past the period
  local kept = old_visit(N * DAY - 120, v.id)          -- two minutes inside it
  local open = old_visit(N * DAY + 3 * DAY, v.id, true) -- past it, but a concern still open
  T.jobs("daily")
  local s = db.get("shifts", gone)
  T.eq(s.resident_name, nil)
  T.eq(s.resident_address, nil)
  T.eq(s.resident_phone, nil)
  T.ok(s.purged_at, "marked purged")
  T.match(note_of(gone).done_text, "已过保存期限")
  T.eq(note_of(gone).concern, "")
  s = db.get("shifts", kept)
  T.eq(s.resident_name, "留存" .. (N * DAY - 120))
  T.eq(s.resident_phone, "13911112222")
  T.match(note_of(kept).done_text, "打扫了厨房")
  s = db.get("shifts", open)
  T.ok(s.resident_name ~= nil, "an open concern keeps its visit")
  T.eq(note_of(open).concern, "燃气有味道")
  -- the staff page says what happened; the hours stay
  local page = T.request{ path = "/staff/shifts/" .. gone, user = STAFF }
  T.eq(page.status, 200)
  T.match(page.body, "已过保存期限")
  -- once handled, the next run removes it too; a second run changes nothing else
  T.eq(T.request{ method = "POST", path = "/staff/notes/" .. note_of(open).id .. "/handled", user = STAFF }.status, 303)
  T.jobs("daily")
  T.eq(db.get("shifts", open).resident_name, nil)
  T.eq(db.get("shifts", kept).resident_address, "留存路" .. (N * DAY - 120) .. "号")
end)

T.test("the setting moves the boundary", function()
  local v = new_volunteer{ name = "留存设置" }
  T.config{ visit_keep_days = 30 }
  local gone = old_visit(30 * DAY + 120, v.id)
  local kept = old_visit(30 * DAY - 120, v.id)
  T.jobs("daily")
  T.eq(db.get("shifts", gone).resident_name, nil)
  T.ok(db.get("shifts", kept).resident_name ~= nil)
  T.fails(function() T.config{ visit_keep_days = 7 } end, "30")
  T.config{ visit_keep_days = 365 }
end)

T.test("volunteers inactive for more than inactive_keep_days are anonymised; their hours stay", function()
  local M = portal.config.inactive_keep_days
  local old = new_volunteer{ name = "久停志愿者", skills = { "driving" } }
  local recent = new_volunteer{ name = "新停志愿者" }
  local active = new_volunteer{ name = "在岗志愿者" }
  for _, v in ipairs({ old, recent }) do
    T.eq(T.request{ method = "POST", path = "/staff/volunteers/" .. v.id .. "/deactivate", user = STAFF }.status, 303)
  end
  local now = portal.time.now()
  db.update("volunteers", { id = old.id }, { inactive_since = C.at(now - M * DAY - 120) })
  db.update("volunteers", { id = recent.id }, { inactive_since = C.at(now - M * DAY + 120) })
  -- hours served before, which the certificate and totals keep counting
  local past = old_visit(10 * DAY, old.id)
  db.insert("assignments", { shift_id = past, volunteer_id = old.id, by_staff = 1, created_at = C.at(now - 11 * DAY),
                             attendance = "present", minutes = 60 })
  T.jobs("daily")
  local row = db.get("volunteers", old.id)
  T.eq(row.name, "已匿名")
  T.ok(row.phone ~= old.phone and row.phone:match("^0%d+$"), "no phone number: " .. row.phone)
  T.eq(row.username, nil)
  T.eq(row.skills, "")
  T.ok(row.anonymised_at, "when")
  T.eq(db.count("assignments", { volunteer_id = old.id, attendance = "present" }), 1, "hours kept")
  T.eq(db.get("volunteers", recent.id).name, "新停志愿者")
  T.eq(db.get("volunteers", recent.id).phone, recent.phone)
  T.eq(db.get("volunteers", active.id).name, "在岗志愿者")
  -- an anonymised profile cannot come back; the recent one can
  local r = T.request{ method = "POST", path = "/staff/volunteers/" .. old.id .. "/reactivate", user = STAFF }
  T.eq(r.status, 409)
  T.match(r.body, "匿名")
  T.eq(T.request{ method = "POST", path = "/staff/volunteers/" .. recent.id .. "/reactivate", user = STAFF }.status, 303)
  local page = T.request{ path = "/staff/volunteers/" .. old.id, user = STAFF }
  T.eq(page.status, 200)
  T.ok(not page.body:find(old.phone, 1, true), "no phone on the page")
  T.match(page.body, "资料已匿名")
end)
