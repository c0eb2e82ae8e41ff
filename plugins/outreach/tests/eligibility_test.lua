-- eligibility_test.lua - who may have the free pre-pregnancy check (registration.validate),
-- each rule at its boundary, and the form's own checks (consent, ID tails). The core calls
-- the same hook and validates the same form when a resident registers on /events/{id}.
local rules = require("lib.rules")

-- A complete, eligible couple's answers; pass fields to change some of them.
local function couple(changes)
  local a = { spouse_name = "李明", id_tail = "1234", spouse_id_tail = "567X", planned = true, basis = "hukou" }
  for k, v in pairs(changes or {}) do a[k] = v end
  return a
end

-- The hook as the core calls it; returns this plugin's answer (nil = eligible).
local function check(answers, kind)
  local res = T.hook("registration.validate", { event_id = 1, kind = kind or rules.PREPREG, name = "王芳",
                                                phone = "13800000000", answers = answers, slot_id = 0 })
  return res[1] and res[1].result
end

T.test("local household registration of either spouse is enough", function()
  T.eq(check(couple()), nil)
end)

T.test("a couple not planning a pregnancy is told why, in plain words", function()
  local r = check(couple{ planned = false })
  T.match(r["answers.planned"], "准备怀孕的夫妻")
  local no_answer = couple()
  no_answer.planned = nil
  T.ok(check(no_answer), "no answer is not a yes")
end)

T.test("residence: exactly the minimum months is enough, one month less is not", function()
  local n = portal.config.min_residence_months
  T.eq(n, 6, "the default")
  T.eq(check(couple{ basis = "residence", residence_months = n }), nil)
  T.eq(check(couple{ basis = "residence", residence_months = n + 30 }), nil)
  local r = check(couple{ basis = "residence", residence_months = n - 1 })
  T.match(r["answers.residence_months"], "住满6个月")
  T.match(r["answers.residence_months"], "住了5个月，再过1个月")
  T.match(check(couple{ basis = "residence", residence_months = 0 })["answers.residence_months"], "再过6个月")
end)

T.test("neither registered nor living here: refused with where to go instead", function()
  local r = check(couple{ basis = "none" })
  T.match(r["answers.basis"], "至少一方是本地户籍")
  T.match(r["answers.basis"], "社区卫生服务中心")
end)

T.test("the rule follows the setting, at its new boundary", function()
  T.config{ min_residence_months = 12 }
  T.eq(check(couple{ basis = "residence", residence_months = 12 }), nil)
  T.match(check(couple{ basis = "residence", residence_months = 11 })["answers.residence_months"], "住满12个月")
  T.config{ min_residence_months = 6 }
  T.eq(check(couple{ basis = "residence", residence_months = 6 }), nil)
end)

T.test("other kinds are not this rule's business", function()
  T.eq(check(couple{ planned = false }, rules.SCREENING), nil)
  T.eq(check({}, "general"), nil)
end)

-- The form, as the core validates it before the hook runs.
local function form(changes)
  local a = couple(changes)
  a.consent = true
  if changes and changes.consent ~= nil then a.consent = changes.consent end
  return portal.form.validate("prepreg", a)
end

T.test("a complete form is accepted and keeps only what is asked", function()
  local ok, v = form{ residence_months = 30 }   -- basis hukou: the months are not kept
  T.ok(ok)
  T.eq(v.residence_months, nil)
  T.eq(v.consent, true)
end)

T.test("the separate consent is required, with its purpose on the form", function()
  local ok, _, errors = form{ consent = false }
  T.ok(not ok)
  T.match(errors.consent, "请勾选")
  local schema = portal.form.schema("prepreg")
  local consent = schema.fields[#schema.fields]
  T.eq(consent.type, "consent")
  T.match(consent.purpose, "敏感个人信息")
  T.match(consent.purpose, "不记录检查结果")
end)

T.test("residence needs the months; ID tails are four characters, X allowed last", function()
  local ok, _, errors = form{ basis = "residence" }
  T.ok(not ok)
  T.ok(errors.residence_months, "months required for residence")
  T.ok(form{ id_tail = "123x" }, "lower-case x is fine")
  for _, bad in ipairs({ "12a4", "X123", "12345", "123" }) do
    local ok2, _, e2 = form{ spouse_id_tail = bad }
    T.ok(not ok2, bad)
    T.ok(e2.spouse_id_tail, bad)
  end
end)
