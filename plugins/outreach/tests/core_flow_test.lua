-- core_flow_test.lua - the whole path through the core, in the plugin test runner: staff create
-- and publish a pre-pregnancy day of this plugin's kind with a one-place slot (the core's
-- JSON API, docs/api.md), couples register for it, and the core calls this plugin's hooks
-- (eligibility, the couple key) on the way. The core's tables are the test database's own.

local STAFF = { roles = { "staff" } }

-- A day N days from now, China time, as the API wants it.
local function day(n)
  return os.date("!%Y-%m-%d", portal.time.now() + 8 * 3600 + n * 86400)
end

-- Distinct phones and ID tails per run: the core's tables outlive the test run.
local seed = portal.time.now() % 100000000
local function phone(i) return string.format("137%08d", (seed + i) % 100000000) end
local function tail(i) return string.format("%04d", (seed + i) % 10000) end

local function new_day(capacity_of_slot)
  local d = day(20)
  local r = T.request{ method = "POST", path = "/api/v1/events", user = STAFF, json = {
    kind = "outreach_prepreg", title = "孕前优生健康检查（测试）", location = "社区卫生服务站",
    starts_at = d .. "T09:00:00+08:00", ends_at = d .. "T11:00:00+08:00", capacity = 20, waitlist = true,
    slots = { { starts_at = d .. "T09:00:00+08:00", ends_at = d .. "T09:30:00+08:00", capacity = capacity_of_slot } } } }
  T.eq(r.status, 201, r.body)
  T.eq(T.request{ method = "POST", path = "/api/v1/events/" .. r.json.id .. "/publish", user = STAFF }.status, 200)
  local ev = T.request{ path = "/api/v1/events/" .. r.json.id }
  T.eq(ev.status, 200, ev.body)
  return r.json.id, ev.json.slots[1].id
end

local function register(id, slot, i, spouse, answers)
  local a = { spouse_name = spouse, id_tail = tail(i), spouse_id_tail = tail(i + 50), planned = true, basis = "hukou" }
  for k, v in pairs(answers or {}) do a[k] = v end
  return T.request{ method = "POST", path = "/api/v1/events/" .. id .. "/registrations",
                    json = { name = "测试" .. i, phone = phone(i), slot_id = slot, consent = true, answers = a } }
end

T.test("a full slot puts the next couple on the waitlist", function()
  local id, slot = new_day(1)
  local first = register(id, slot, 1, "配偶甲")
  T.eq(first.status, 201, first.body)
  T.eq(first.json.status, "confirmed")
  local second = register(id, slot, 2, "配偶乙")
  T.eq(second.status, 201, second.body)
  T.eq(second.json.status, "waitlisted")
  T.eq(second.json.position, 1)
end)

T.test("the same couple again, from the other spouse's phone: 409 with the plugin's words", function()
  local id, slot = new_day(5)
  T.eq(register(id, slot, 11, "配偶丙").status, 201)
  -- the spouse registers: names and tails swapped, another phone
  local again = T.request{ method = "POST", path = "/api/v1/events/" .. id .. "/registrations", json = {
    name = "配偶丙", phone = phone(12), slot_id = slot, consent = true, answers = {
      spouse_name = "测试11", id_tail = tail(61), spouse_id_tail = tail(11), planned = true, basis = "hukou" } } }
  T.eq(again.status, 409, again.body)
  T.eq(again.json.error.code, "duplicate")
  T.match(again.json.error.message, "每对夫妻每年一次")
end)

T.test("not eligible: 422 with the reason by the field, nothing written", function()
  local id, slot = new_day(5)
  local r = register(id, slot, 21, "配偶丁", { basis = "residence", residence_months = 2 })
  T.eq(r.status, 422, r.body)
  local msgs = portal.json.encode(r.json.error.fields)
  T.match(msgs, "住了2个月")
  local list = T.request{ path = "/api/v1/events/" .. id .. "/registrations", user = STAFF }
  T.eq(list.status, 200, list.body)
  T.eq(#list.json.registrations, 0)
end)
