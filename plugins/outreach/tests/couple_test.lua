-- couple_test.lua - "one free check per couple per year": the key the plugin gives the core
-- (registration.keys). The core keeps its hash under a unique index, so the duplicate itself
-- is refused by the database (tests/integration/outreach.test.mjs sends racing requests).
local rules = require("lib.rules")

local A = { spouse_name = "李明", id_tail = "1234", spouse_id_tail = "567x" }

T.test("the same couple gives the same key, whoever fills in the form and however typed", function()
  local k = rules.couple_key("2026", "王芳", A)
  T.match(k, "^couple:2026:")
  T.eq(rules.couple_key("2026", "李 明", { spouse_name = "王芳　", id_tail = "567X", spouse_id_tail = "1234" }), k)
end)

T.test("another couple, another person of the same name, or another year gives another key", function()
  local k = rules.couple_key("2026", "王芳", A)
  T.ok(rules.couple_key("2026", "王芳", { spouse_name = "李明", id_tail = "1234", spouse_id_tail = "5670" }) ~= k)
  T.ok(rules.couple_key("2026", "王芳", { spouse_name = "张伟", id_tail = "1234", spouse_id_tail = "567X" }) ~= k)
  T.ok(rules.couple_key("2027", "王芳", A) ~= k)
end)

T.test("minority names: the dot is the same dot however it was typed", function()
  T.eq(rules.couple_key("2026", "阿依古丽.买买提", A), rules.couple_key("2026", "阿依古丽·买买提", A))
end)

T.test("screening registrations have no couple key", function()
  T.eq(#T.hook("registration.keys", { event_id = 1, kind = rules.SCREENING, name = "王芳", answers = {} }), 0)
end)

T.test("a pre-pregnancy registration for an unknown event is refused (fail closed)", function()
  T.fails(function()
    T.hook("registration.keys", { event_id = 999999999, kind = rules.PREPREG, name = "王芳", answers = A })
  end, "the hook raised")
end)
