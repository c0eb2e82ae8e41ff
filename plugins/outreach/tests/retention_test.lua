-- retention_test.lua - the daily job anonymises the plugin's own records of events past the
-- retention period (setting retention_days, default 365 days after the event), and nothing
-- newer.
local staff = require("lib.staff")
local DAY = 86400

-- An event {id, ends_at} that ended `days` days ago (plus or minus an hour).
local function ended(id, days, hours)
  return { id = id, ends_at = portal.time.date("%Y-%m-%d %H:%M:%S", portal.time.now() - days * DAY + (hours or 0) * 3600) }
end

local HIGH = { systolic = 160, diastolic = 100, consent = true }

T.test("records past retention lose the code and the notes; the numbers stay", function()
  T.eq(portal.config.retention_days, 365)
  local old, edge, recent = ended(910001, 366), ended(910002, 365, 1), ended(910003, 10)
  staff.store(old, "RTOLD1", HIGH, "tester")
  staff.store(edge, "RTEDG1", HIGH, "tester")
  staff.store(recent, "RTNEW1", HIGH, "tester")
  T.jobs("daily")
  local r = portal.db.find("readings", { event_id = old.id })[1]
  T.eq(r.reg_code, nil)
  T.eq(r.referral_note, nil)
  T.ok(r.anonymised_at, "stamped")
  T.eq(r.systolic, 160, "the numbers stay for the yearly summary")
  local f = portal.db.find("followups", { event_id = old.id })[1]
  T.eq(f.reg_code, nil)
  T.eq(f.reason, nil)
  for _, ev in ipairs({ edge, recent }) do
    local kept = portal.db.find("readings", { event_id = ev.id })[1]
    T.ok(kept.reg_code and kept.referral_note, "kept: ended less than 365 days ago")
    T.eq(portal.db.find("followups", { event_id = ev.id })[1].anonymised_at, nil)
  end
end)

T.test("a shorter retention setting anonymises sooner", function()
  local ev = ended(910004, 31)
  staff.store(ev, "RTSET1", HIGH, "tester")
  T.jobs("daily")
  T.ok(portal.db.find("readings", { event_id = ev.id })[1].reg_code, "31 days < 365")
  T.config{ retention_days = 30 }
  T.jobs("daily")
  T.eq(portal.db.find("readings", { event_id = ev.id })[1].reg_code, nil)
  T.config{ retention_days = 365 }
end)
