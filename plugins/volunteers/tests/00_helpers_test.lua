-- 00_helpers_test.lua - what every test file uses (this file runs first; test files share
-- one Lua state). Volunteers get real logins (portal.accounts), which outlive the run's
-- throwaway tables, so phone numbers are new on every run.

STAFF = { roles = { "staff" }, username = "staff_tester" }

local seq = 0
-- an 11-digit mobile number no earlier run used: 17 + run time + a counter
function new_phone()
  seq = seq + 1
  return string.format("17%05d%04d", os.time() % 100000, seq)
end

-- A volunteer added by staff: returns { id, username, phone, user } where user is what
-- T.request needs to act as them.
function new_volunteer(opts)
  opts = opts or {}
  local phone = new_phone()
  local r = T.request{ method = "POST", path = "/staff/volunteers", user = STAFF, form = {
    name = opts.name or "志愿者", phone = phone, skills = opts.skills or {}, days = opts.days or {},
    parts = opts.parts or {}, consent = "true" } }
  T.eq(r.status, 200, "volunteer created: " .. r.body:sub(1, 300))
  T.eq(r.template, "volunteers_account")
  return { id = r.data.volunteer_id, username = r.data.username, phone = phone, password = r.data.password,
           user = { roles = { "volunteer" }, username = r.data.username } }
end

-- "YYYY-MM-DD" of today + n days (noon-based, so never off by one)
function day_in(n)
  return portal.time.date("%Y-%m-%d", portal.time.parse(portal.time.today()) + n * 86400 + 12 * 3600)
end

-- A shift made by staff; fields override the defaults (a place shift the day after
-- tomorrow 09:00-11:00 for 2 people). Returns its id.
function new_shift(fields)
  local form = { kind = "place", role = "活动引导", place = "社区活动室", day = day_in(2), start = "09:00",
                 ["end"] = "11:00", headcount = "2" }
  for k, v in pairs(fields or {}) do
    form[k] = v
  end
  local r = T.request{ method = "POST", path = "/staff/shifts", user = STAFF, form = form }
  T.eq(r.status, 303, "shift created: " .. r.body:sub(1, 300))
  return tonumber(r.location:match("/shifts/(%d+)$"))
end

-- A shift that starts in about an hour (inside any cut-off of an hour or more).
function soon_shift(fields)
  local t = portal.time.now() + 70 * 60
  t = t - t % 600
  local start = portal.time.date("%H:%M", t)
  local stop = start >= "23:30" and "23:59" or portal.time.date("%H:%M", t + 1800)
  local f = { day = portal.time.date("%Y-%m-%d", t), start = start, ["end"] = stop }
  for k, v in pairs(fields or {}) do
    f[k] = v
  end
  return new_shift(f)
end

function signup(vol, shift_id)
  return T.request{ method = "POST", path = "/shifts/" .. shift_id .. "/signup", user = vol.user }
end

function withdraw(vol, shift_id)
  return T.request{ method = "POST", path = "/shifts/" .. shift_id .. "/withdraw", user = vol.user }
end

function assign(vol, shift_id)
  return T.request{ method = "POST", path = "/staff/shifts/" .. shift_id .. "/assign", user = STAFF,
                    form = { volunteer_id = tostring(vol.id) } }
end

function staff_shift(shift_id)
  local r = T.request{ path = "/staff/shifts/" .. shift_id, user = STAFF }
  T.eq(r.status, 200)
  return r.data
end

-- the volunteer's page data
function me(vol)
  local r = T.request{ path = "/me", user = vol.user }
  T.eq(r.status, 200, "the volunteer's page: " .. r.body:sub(1, 200))
  return r.data, r.body
end

function find(list, key, value)
  for _, it in ipairs(list or {}) do
    if it[key] == value then
      return it
    end
  end
end

T.test("the helpers make a volunteer who can open their page", function()
  local v = new_volunteer{ name = "测试员" }
  T.match(v.username, "^v17%d+$")
  T.ok(#v.password >= 10, "a one-time password is shown")
  local data = me(v)
  T.eq(data.name, "测试员")
end)
