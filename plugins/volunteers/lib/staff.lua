-- staff.lua - the staff pages and JSON API: applications and accounts, shifts and who is
-- on them, coverage, care plans, attendance and hours, certificates, visit concerns.
local db = portal.db
local C = require("lib.common")
local R = require("lib.rules")
local J = require("lib.jobs")
local refusal = require("lib.refusal")
local refuse = refusal.refuse
local M = {}

local BASE = "/p/volunteers/staff"

-- 422 with the form's messages: the page again (render), or a refusal on the API
local function invalid(req, errors, render)
  if req.is_api then
    refuse("请检查填写的内容。", 422, "invalid", errors)
  end
  return render(422, req.form, errors)
end

-- Dashboard ------------------------------------------------------------------------------

function M.dashboard()
  local concerns = {}
  for _, n in ipairs(db.query("open_concerns", {})) do
    concerns[#concerns + 1] = { id = n.id, shift_id = n.shift_id, concern = n.concern,
                                done_text = n.done_text, volunteer = n.volunteer,
                                resident_name = n.resident_name or "", when = C.when(n.starts_at) }
  end
  if #concerns > 0 then
    portal.audit("concerns.view", "notes", "open", { rows = #concerns })
  end
  local unconfirmed = {}
  for _, s in ipairs(db.query("unconfirmed", { C.now_text() })) do
    unconfirmed[#unconfirmed + 1] = { id = s.id, role = s.role, when = C.when(s.starts_at, s.ends_at),
                                      waiting = s.waiting }
  end
  return { template = "volunteers_staff", data = {
    title = "志愿服务工作台", concerns = concerns, unconfirmed = unconfirmed,
    pending = db.count("volunteers", { status = "pending" }),
  } }
end

-- Volunteers -----------------------------------------------------------------------------

local STATUS_TEXT = { pending = "待审核", active = "在岗", inactive = "已停用" }

local function volunteer_item(v)
  return { id = v.id, name = v.name, phone = v.anonymised_at and "" or portal.mask.phone(v.phone),
           status_text = v.anonymised_at and "已停用，资料已匿名" or STATUS_TEXT[v.status] or v.status,
           inactive = v.status == "inactive", anonymised = v.anonymised_at ~= nil,
           inactive_since = v.inactive_since or "",
           skills = C.labels(v.skills, C.SKILLS), days = C.labels(v.days, C.DAYS),
           parts = C.labels(v.parts, C.PARTS), availability_note = v.availability_note or "",
           username = v.username or "", created_at = v.created_at, status = v.status }
end

local function volunteers_page(status, input, errors, notice)
  local pending, active = {}, {}
  for _, v in ipairs(db.find("volunteers", {}, { order_by = "name, id", limit = 1000 })) do
    if v.status == "pending" then
      pending[#pending + 1] = volunteer_item(v)
    else
      active[#active + 1] = volunteer_item(v)
    end
  end
  portal.audit("volunteers.view", "volunteers", "list", { rows = #pending + #active })
  return { status = status, template = "volunteers_list", data = {
    title = "志愿者", pending = pending, active = active, notice = notice or "",
    fields = portal.form.view("join", input, errors),
  } }
end

function M.volunteers()
  return volunteers_page(200)
end

-- A login for a volunteer (inside the caller's transaction): the account
-- ({id, username, password}) or nil, message when the username is taken.
local function create_account(phone, name)
  local acc, err = portal.accounts.create{ username = "v" .. phone, display_name = name, role = "volunteer" }
  if not acc then
    if err == "taken" then
      return nil, "登录名 v" .. phone .. " 已经有人用了：请到“用户”里查看这个账号。"
    end
    error("account not created: " .. tostring(err))
  end
  return acc
end

local function activated(acc)
  return { status = "active", user_id = acc.id, username = acc.username, approved_at = C.now_text(),
           approved_by = C.staff_name() }
end

local function account_page(req, vol, acc)
  portal.audit("volunteer.account", "volunteer", tostring(vol.id), { username = acc.username })
  if req.is_api then
    return { status = 201, json = { id = vol.id, username = acc.username, password = acc.password } }
  end
  return { template = "volunteers_account", data = {
    title = "志愿者账号已开通", name = vol.name, volunteer_id = vol.id, username = acc.username, password = acc.password,
    login = "/login?next=/p/volunteers/me",
  } }
end

-- Staff add a volunteer (consent asked in person): the profile and the login at once.
function M.volunteer_create(req)
  local ok, v, errors = portal.form.validate("join")
  if not ok then
    return invalid(req, errors, volunteers_page)
  end
  local out, no = refusal.catch(db.transaction, function()
    if db.count("volunteers", { phone = v.phone }) > 0 then
      refuse("这个手机号的志愿者已经有了。", 409, "duplicate")
    end
    local acc, err = create_account(v.phone, v.name)
    if not acc then
      refuse(err, 409, "duplicate")
    end
    local row = C.profile_row(v, "active")
    for k, val in pairs(activated(acc)) do
      row[k] = val
    end
    local id = assert(db.insert("volunteers", row), "phone taken meanwhile")
    return { vol = db.get("volunteers", id), acc = acc }
  end)
  if no then
    if req.is_api then
      return refusal.response(no)
    end
    return volunteers_page(409, req.form, { phone = no.message })   -- the form again, by the phone
  end
  return account_page(req, out.vol, out.acc)
end

function M.approve(req)
  local out = db.transaction(function()
    local vol = db.query("lock_volunteer", { C.path_id(req) })[1]
    if not vol then
      refuse("找不到这位志愿者。", 404)
    end
    if vol.status ~= "pending" then
      refuse("这位志愿者已经审核过了。")
    end
    vol = db.get("volunteers", vol.id)
    local acc, err = create_account(vol.phone, vol.name)
    if not acc then
      refuse(err)
    end
    db.update("volunteers", { id = vol.id }, activated(acc))
    return { vol = vol, acc = acc }
  end)
  return account_page(req, out.vol, out.acc)
end

-- An application that is turned down is deleted: nothing kept that is not needed.
function M.reject(req)
  local n = db.delete("volunteers", { id = C.path_id(req), status = "pending" })
  if n == 0 then
    refuse("找不到这份待审核的报名。", 404)
  end
  portal.audit("volunteer.reject", "volunteer", tostring(C.path_id(req)))
  return { redirect = BASE .. "/volunteers" }
end

local VOLUNTEER_NOTICES = { deactivated = "已停用：这位志愿者不能再登录和报名，也不会收到通知。",
                            reactivated = "已恢复：这位志愿者可以重新登录和报名了。" }

function M.volunteer(req)
  local v = db.get("volunteers", C.path_id(req)) or refuse("找不到这位志愿者。", 404)
  local item = volunteer_item(v)
  item.phone_full = v.anonymised_at and "" or v.phone
  item.can_deactivate = v.status == "active"
  item.can_reactivate = v.status == "inactive" and not v.anonymised_at
  portal.audit("volunteer.view", "volunteer", tostring(v.id))
  local shifts, future = {}, {}
  local now = C.now_text()
  for _, s in ipairs(db.query("mine", { v.id })) do
    if v.status == "inactive" and s.starts_at > now then
      table.insert(future, 1, { id = s.id, role = s.role, when = C.when(s.starts_at, s.ends_at) })  -- soonest first
    end
    shifts[#shifts + 1] = { id = s.id, role = s.role, when = C.when(s.starts_at, s.ends_at),
                            attendance = s.attendance == "present" and "已参加"
                              or s.attendance == "no_show" and "未到" or "",
                            hours = s.attendance == "present" and C.hours_text(s.minutes or 0) or "" }
  end
  return { template = "volunteers_volunteer", data = {
    title = v.name, v = item, shifts = shifts, future = future,
    notice = VOLUNTEER_NOTICES[req.query.done or ""] or "",
  } }
end

-- Switch a volunteer off or on again: the profile's status and the login together, in one
-- transaction (portal.accounts joins it). Off: no sign-ups, no shifts offered, no texts; the
-- shifts still ahead stay on the volunteer's page for staff to reassign. An anonymised
-- profile cannot come back.
local function set_active(req, on)
  local out = db.transaction(function()
    local vol = db.query("lock_volunteer", { C.path_id(req) })[1]
    if not vol then
      refuse("找不到这位志愿者。", 404)
    end
    vol = db.get("volunteers", vol.id)
    if on and (vol.status ~= "inactive" or vol.anonymised_at) then
      refuse(vol.anonymised_at and "这位志愿者的资料已按保存期限匿名，不能恢复；请重新登记。"
                               or "这位志愿者没有停用。")
    elseif not on and vol.status ~= "active" then
      refuse("只有在岗的志愿者可以停用。")
    end
    db.update("volunteers", { id = vol.id }, on
      and { status = "active", inactive_since = db.NULL, inactive_by = db.NULL }
      or { status = "inactive", inactive_since = C.now_text(), inactive_by = C.staff_name() })
    if vol.user_id then
      portal.accounts.set_disabled(vol.user_id, not on)
    end
    local ahead = db.query("ahead", { vol.id, C.now_text() })[1].n
    portal.audit(on and "volunteer.reactivate" or "volunteer.deactivate", "volunteer", tostring(vol.id),
                 { shifts_ahead = ahead })
    return { id = vol.id }
  end)
  return { redirect = BASE .. "/volunteers/" .. out.id .. "?done=" .. (on and "reactivated" or "deactivated") }
end

function M.deactivate(req)
  return set_active(req, false)
end

function M.reactivate(req)
  return set_active(req, true)
end

-- Shifts ---------------------------------------------------------------------------------

-- Published events from today on, for the "belongs to an event" choice.
local function events()
  local out = {}
  for _, e in ipairs(portal.events.list{ all_kinds = true, from = portal.time.today() }) do
    out[#out + 1] = { id = e.id, title = e.title, when = C.when(e.starts_at) }
  end
  return out
end

local function shift_form(status, input, errors)
  local fields = {}
  for _, f in ipairs(portal.form.view("shift", input, errors)) do
    if f.name ~= "event_id" then              -- offered as a list of events instead
      fields[#fields + 1] = f
    end
  end
  local chosen = input and tonumber(input.event_id)
  local evs = events()
  for _, e in ipairs(evs) do
    e.selected = e.id == chosen
  end
  return { status = status, template = "volunteers_shift_new", data = {
    title = "新建班次", fields = fields, events = evs,
    event_error = errors and errors.event_id or "",
  } }
end

function M.shift_new()
  return shift_form(200)
end

function M.shift_create(req)
  local ok, v, errors = portal.form.validate("shift")   -- an empty event_id is "none"
  if ok and v.event_id then
    local e = portal.events.get(v.event_id)
    if not e or e.status ~= "published" then
      ok, errors = false, { event_id = "找不到这个活动，或者它还没有发布。" }
    else
      v.event_title = e.title
      if v.kind == "place" and (v.place or "") == "" then
        v.place = e.location
      end
    end
  end
  if not ok then
    return invalid(req, errors, shift_form)
  end
  local visit = v.kind == "visit"
  local id = db.insert("shifts", {
    kind = v.kind, role = v.role, place = visit and "" or v.place,
    resident_name = visit and v.resident_name or nil, resident_address = visit and v.resident_address or nil,
    resident_phone = visit and v.resident_phone or nil,
    starts_at = v.day .. " " .. v.start .. ":00", ends_at = v.day .. " " .. v["end"] .. ":00",
    headcount = v.headcount, skill = v.skill or "", event_id = v.event_id, event_title = v.event_title,
    note = v.note or "", created_at = C.now_text(), created_by = C.staff_name(),
  })
  if req.is_api then
    return { status = 201, json = { id = id } }
  end
  return { redirect = BASE .. "/shifts/" .. id }
end

local NOTICES = {
  assigned = "已安排。", unassigned = "已取消安排。", confirmed = "出勤已记录。",
}

function M.shift(req)
  local s = db.get("shifts", C.path_id(req)) or refuse("找不到这个班次。", 404)
  local roster, on = {}, {}
  for _, a in ipairs(db.query("roster", { s.id })) do
    on[a.volunteer_id] = true
    roster[#roster + 1] = {
      volunteer_id = a.volunteer_id, name = a.name, phone = portal.mask.phone(a.phone),
      inactive = a.status ~= "active",
      by_staff = a.by_staff == 1, present = a.attendance == "present", no_show = a.attendance == "no_show",
      hours = a.minutes and C.hours_text(a.minutes) or C.hours_text(C.minutes_between(s.starts_at, s.ends_at)),
      confirmed = a.attendance ~= nil,
    }
  end
  local choices = {}
  for _, v in ipairs(db.find("volunteers", { status = "active" }, { order_by = "name, id", limit = 1000 })) do
    if not on[v.id] then
      choices[#choices + 1] = { id = v.id, name = v.name, qualifies = R.qualifies(v, s) }
    end
  end
  local reminded = db.count("messages", { shift_id = s.id, kind = "reminder" })
  local called = db.count("messages", { shift_id = s.id, kind = "call" })
  if s.kind == "visit" then
    portal.audit("shift.view", "shift", tostring(s.id), { visit = true })
  end
  return { template = "volunteers_staff_shift", data = {
    title = s.role,
    shift = {
      id = s.id, role = s.role, when = C.when(s.starts_at, s.ends_at), visit = s.kind == "visit",
      place = s.place, resident_name = s.purged_at and "（已过保存期限，已删除）" or s.resident_name or "",
      resident_address = s.resident_address or "",
      resident_phone = s.resident_phone or "", headcount = s.headcount, taken = #roster,
      skill = C.skill_label(s.skill), event_title = s.event_title or "", note = s.note,
      started = s.starts_at <= C.now_text(),
    },
    roster = roster, choices = choices, reminded = reminded, called = called,
    notice = NOTICES[req.query.done or ""] or "",
  } }
end

local function volunteer_param(req)
  return math.tointeger(tonumber(req.form.volunteer_id or "")) or 0
end

-- assign or unassign (rule: R.take or R.release) the form's volunteer_id, audited
local function roster_change(req, rule, action, done)
  rule(C.path_id(req), volunteer_param(req), true)
  portal.audit(action, "shift", tostring(C.path_id(req)), { volunteer_id = volunteer_param(req) })
  return { redirect = BASE .. "/shifts/" .. C.path_id(req) .. "?done=" .. done }
end

function M.assign(req)
  return roster_change(req, R.take, "shift.assign", "assigned")
end

function M.unassign(req)
  return roster_change(req, R.release, "shift.unassign", "unassigned")
end

-- After a shift has started: present (with the hours actually worked) or no-show.
function M.attendance(req)
  local s = db.get("shifts", C.path_id(req)) or refuse("找不到这个班次。", 404)
  if s.starts_at > C.now_text() then
    refuse("班次开始以后才能确认出勤。", 409, "too_early")
  end
  local att = req.form.attendance
  local minutes
  if att == "present" then
    local err
    minutes, err = C.parse_hours(req.form.hours)
    if not minutes or minutes == 0 then
      err = err or "参加了的话，时长要大于0。"
      refuse(err, 422, "invalid", { hours = err })
    end
  elseif att == "no_show" then
    minutes = 0
  else
    local msg = "请选择“参加了”或“没来”。"
    refuse(msg, 422, "invalid", { attendance = msg })
  end
  local n = db.update("assignments", { shift_id = s.id, volunteer_id = volunteer_param(req) }, {
    attendance = att, minutes = minutes, confirmed_by = C.staff_name(), confirmed_at = C.now_text(),
  })
  if n == 0 then
    refuse("这位志愿者不在这个班次上。", 404)
  end
  portal.audit("shift.attendance", "shift", tostring(s.id),
               { volunteer_id = volunteer_param(req), attendance = att, minutes = minutes })
  return { redirect = BASE .. "/shifts/" .. s.id .. "?done=confirmed" }
end

-- Coverage -------------------------------------------------------------------------------

-- level: "short" (nobody, or at most half), "low" (some missing), "ok" (full)
local function coverage_rows(weeks)
  local now = portal.time.now()
  local rows = {}
  for _, s in ipairs(R.upcoming(C.at(now), C.at(now + weeks * 7 * 86400))) do
    local missing = math.max(s.headcount - s.taken, 0)
    local level = missing == 0 and "ok" or (s.taken * 2 <= s.headcount and "short" or "low")
    rows[#rows + 1] = {
      id = s.id, role = s.role, kind = s.kind, when = C.when(s.starts_at, s.ends_at),
      starts_at = s.starts_at, ends_at = s.ends_at,
      place = s.kind == "visit" and "上门探访" or s.place, event_title = s.event_title or "",
      headcount = s.headcount, taken = s.taken, missing = missing, level = level,
      short = level == "short", low = level == "low", ok = level == "ok",
      skill = C.skill_label(s.skill),
    }
  end
  return rows
end

function M.coverage(req)
  local weeks = math.tointeger(tonumber(req.query.weeks or "")) or portal.config.show_weeks
  weeks = math.min(math.max(weeks, 1), 12)
  local rows = coverage_rows(weeks)
  if req.is_api then
    local list = {}
    for i, r in ipairs(rows) do
      list[i] = { id = r.id, role = r.role, kind = r.kind, starts_at = r.starts_at, ends_at = r.ends_at,
                  headcount = r.headcount, taken = r.taken, missing = r.missing, level = r.level }
    end
    return { json = { weeks = weeks, shifts = list } }
  end
  local missing = 0
  for _, r in ipairs(rows) do
    missing = missing + r.missing
  end
  local called = math.tointeger(tonumber(req.query.called or ""))
  return { template = "volunteers_coverage", data = {
    title = "缺人一览", weeks = weeks, rows = rows, missing = missing,
    notice = called and string.format("已给 %d 位合适的志愿者发了通知。", called) or "",
  } }
end

function M.call(req)
  local s = db.get("shifts", C.path_id(req)) or refuse("找不到这个班次。", 404)
  local n = J.call_for(s)
  portal.audit("shift.call", "shift", tostring(s.id), { queued = n })
  return { redirect = "/p/volunteers/staff/coverage?called=" .. n }
end

-- Care plans -----------------------------------------------------------------------------

local function plans_page(status, input, errors, notice)
  local list = {}
  for _, p in ipairs(db.find("plans", {}, { order_by = "id", limit = 500 })) do
    list[#list + 1] = { id = p.id, title = p.title, role = p.role, resident_name = p.resident_name,
                        weekday = C.labels("," .. p.weekday .. ",", C.DAYS),
                        time = p.start_time .. "—" .. p.end_time, headcount = p.headcount,
                        active = p.active == 1 }
  end
  return { status = status, template = "volunteers_plans", data = {
    title = "定期探访计划", plans = list, weeks = portal.config.plan_weeks, notice = notice or "",
    fields = portal.form.view("plan", input, errors),
  } }
end

function M.plans(req)
  local added = math.tointeger(tonumber(req.query.added or ""))
  return plans_page(200, nil, nil, added and string.format("新生成了 %d 个班次。", added))
end

function M.plan_create(req)
  local ok, v, errors = portal.form.validate("plan")
  if not ok then
    return invalid(req, errors, plans_page)
  end
  local id, added
  db.transaction(function()
    id = db.insert("plans", {
      title = v.title, role = v.role, skill = v.skill or "", resident_name = v.resident_name,
      resident_address = v.resident_address, resident_phone = v.resident_phone,
      weekday = tonumber(v.weekday), start_time = v.start, end_time = v["end"], headcount = v.headcount,
      active = 1, created_at = C.now_text(),
    })
  end)
  added = J.generate(id)
  if req.is_api then
    return { status = 201, json = { id = id, added = added } }
  end
  return { redirect = BASE .. "/plans?added=" .. added }
end

function M.generate(req)
  local added = J.generate()
  if req.is_api then
    return { json = { added = added } }
  end
  return { redirect = BASE .. "/plans?added=" .. added }
end

-- Hours ----------------------------------------------------------------------------------

-- from/to of ?from=&to= (dates), default: this calendar year; to is inclusive
local function period(req)
  local from, to = req.query.from or "", req.query.to or ""
  if not (from:match("^%d%d%d%d%-%d%d%-%d%d$") and portal.time.parse(from)) then
    from = portal.time.today():sub(1, 4) .. "-01-01"
  end
  if not (to:match("^%d%d%d%d%-%d%d%-%d%d$") and portal.time.parse(to)) then
    to = portal.time.today():sub(1, 4) .. "-12-31"
  end
  local to_next = portal.time.date("%Y-%m-%d", portal.time.parse(to) + 86400 + 12 * 3600)
  return from, to, from .. " 00:00:00", to_next .. " 00:00:00"
end

-- Totals per volunteer in a period: hours of shifts attended, attended and no-show counts.
function M.totals(from_at, to_at)
  local out = {}
  for _, r in ipairs(db.query("totals", { from_at, to_at })) do
    local minutes = math.floor((r.minutes or 0) + 0.5)
    out[#out + 1] = { volunteer_id = r.volunteer_id, name = r.name, phone = r.phone, minutes = minutes,
                      hours = C.hours_text(minutes), present = math.floor(r.present + 0.5),
                      no_shows = math.floor(r.no_shows + 0.5) }
  end
  return out
end

function M.hours(req)
  local from, to, from_at, to_at = period(req)
  local rows = M.totals(from_at, to_at)
  local minutes = 0
  for _, r in ipairs(rows) do
    r.phone = portal.mask.phone(r.phone)
    minutes = minutes + r.minutes
  end
  return { template = "volunteers_hours", data = {
    title = "服务时长", from = from, to = to, rows = rows, total = C.hours_text(minutes),
  } }
end

function M.hours_csv(req)
  local from, to, from_at, to_at = period(req)
  local rows = { { "志愿者", "手机号", "参加次数", "服务时长（小时）", "未到次数" } }
  for _, r in ipairs(M.totals(from_at, to_at)) do
    rows[#rows + 1] = { r.name, portal.mask.phone(r.phone), tostring(r.present), r.hours, tostring(r.no_shows) }
  end
  portal.audit("hours.export", "hours", from .. ".." .. to, { rows = #rows - 1 })
  return { text = portal.csv.encode(rows), content_type = "text/csv; charset=utf-8",
           headers = { ["Content-Disposition"] = string.format('attachment; filename="volunteer-hours-%s-%s.csv"', from, to) } }
end

function M.certificate(req)
  local v = db.get("volunteers", C.path_id(req)) or refuse("找不到这位志愿者。", 404)
  local from, to, from_at, to_at = period(req)
  local list, minutes = {}, 0
  for _, s in ipairs(db.query("served", { v.id, from_at, to_at })) do
    minutes = minutes + (s.minutes or 0)
    list[#list + 1] = { when = C.when(s.starts_at, s.ends_at), role = s.role,
                        place = s.kind == "visit" and "上门探访" or s.place,
                        hours = C.hours_text(s.minutes or 0) }
  end
  portal.audit("certificate.view", "volunteer", tostring(v.id), { from = from, to = to })
  return { template = "volunteers_certificate", data = {
    title = "志愿服务时长证明", name = v.name, from = from, to = to, rows = list,
    total = C.hours_text(minutes), count = #list, today = portal.time.today(),
    extra_css = { "/static/signin.css" },  -- A4 print rules of the core's printed sheets
  } }
end

-- Visit concerns -------------------------------------------------------------------------

function M.handled(req)
  local n = db.update("notes", { id = C.path_id(req), concern_open = 1 },
                      { concern_open = 0, handled_by = C.staff_name(), handled_at = C.now_text() })
  if n == 0 then
    refuse("这条情况已经处理过了。", 404)
  end
  portal.audit("concern.handled", "note", tostring(C.path_id(req)))
  return { redirect = BASE }
end

return M
