-- readings_test.lua - what staff may enter at the measuring table, and what counts as
-- abnormal (the thresholds are settings; the defaults are the usual screening limits).
local readings = require("lib.readings")

-- The reading form as staff fill it in (JSON-style input); changes override the defaults.
local function reading(changes)
  local v = { systolic = 128, diastolic = 82, consent = true }
  for k, x in pairs(changes or {}) do v[k] = x end
  if v.systolic == false then v.systolic = nil end
  if v.diastolic == false then v.diastolic = nil end
  return portal.form.validate("reading", v)
end

local function refused(changes, field, pattern)
  local ok, _, errors = reading(changes)
  T.ok(not ok, "refused")
  T.ok(errors[field], "an error on " .. field)
  if pattern then T.match(errors[field], pattern) end
end

T.test("a normal reading with consent is accepted", function()
  local ok, v = reading{ glucose = "5.6", glucose_kind = "fasting" }
  T.ok(ok)
  T.eq(v.systolic, 128)
  T.eq(readings.glucose_tenths(v.glucose), 56)
end)

T.test("the resident's consent is required", function()
  refused({ consent = false }, "consent")
end)

T.test("numbers only", function()
  refused({ systolic = "一百二" }, "systolic")
  refused({ diastolic = "8O" }, "diastolic")
  refused({ glucose = "abc", glucose_kind = "random" }, "glucose", "请填数字")
  refused({ glucose = "5.55", glucose_kind = "random" }, "glucose", "请填数字")
end)

T.test("out of range is refused at each end", function()
  refused({ systolic = 59 }, "systolic")
  refused({ systolic = 261, diastolic = 100 }, "systolic")
  T.ok(reading{ systolic = 260, diastolic = 120 })
  refused({ diastolic = 29, systolic = 100 }, "diastolic")
  refused({ glucose = "0.9", glucose_kind = "fasting" }, "glucose", "1.0 到 33.3")
  refused({ glucose = "33.4", glucose_kind = "fasting" }, "glucose", "1.0 到 33.3")
  T.ok(reading{ glucose = "33.3", glucose_kind = "random" })
  T.ok(reading{ glucose = "1.0", glucose_kind = "random" })
end)

T.test("the diastolic must be below the systolic", function()
  refused({ systolic = 90, diastolic = 120 }, "diastolic", "低压（舒张压）应小于高压")
  refused({ systolic = 100, diastolic = 100 }, "diastolic")
end)

T.test("half a blood pressure, a glucose without its kind, or nothing at all is refused", function()
  refused({ diastolic = false }, "diastolic", "两个数")
  refused({ glucose = "6.0" }, "glucose_kind")
  refused({ systolic = false, diastolic = false }, "systolic", "至少填写")
  T.ok(reading{ systolic = false, diastolic = false, glucose = "6.0", glucose_kind = "random" }, "glucose alone")
end)

-- the default thresholds
local TH = { systolic = 140, diastolic = 90, fasting_tenths = 70, random_tenths = 111 }

T.test("blood pressure: 140 or 90 and above is abnormal, just below is not", function()
  T.eq(#readings.findings({ systolic = 139, diastolic = 89 }, TH), 0)
  T.eq(#readings.findings({ systolic = 140, diastolic = 70 }, TH), 1)
  T.match(readings.findings({ systolic = 120, diastolic = 90 }, TH)[1], "血压 120/90 mmHg，达到或高于 140/90")
end)

T.test("glucose: fasting 7.0 and random 11.1 and above are abnormal", function()
  T.eq(#readings.findings({ glucose_tenths = 69, glucose_kind = "fasting" }, TH), 0)
  T.match(readings.findings({ glucose_tenths = 70, glucose_kind = "fasting" }, TH)[1], "空腹血糖 7.0")
  T.eq(#readings.findings({ glucose_tenths = 110, glucose_kind = "random" }, TH), 0)
  T.eq(#readings.findings({ glucose_tenths = 111, glucose_kind = "random" }, TH), 1)
  T.eq(#readings.findings({ glucose_tenths = 80, glucose_kind = "random" }, TH), 0, "8.0 is fine after a meal")
end)

T.test("the referral note says what was found and what to do, without diagnosing", function()
  local note = readings.referral_note(readings.findings({ systolic = 150, diastolic = 95, glucose_tenths = 78,
                                                          glucose_kind = "fasting" }, TH))
  T.match(note, "血压 150/95")
  T.match(note, "空腹血糖 7.8")
  T.match(note, "不是诊断")
  T.match(note, "两周内")
end)
