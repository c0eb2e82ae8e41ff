-- lib/staff.lua - the staff pages: the outreach days, one day (slots, registrations,
-- attendance, readings, follow-ups), the printable list, recording a reading, the referral
-- slip, marking a follow-up done, the yearly summary CSV.
--
-- Core data (events, registrations) is read through portal.events, this plugin's own kinds
-- only; readings and follow-ups are the plugin's own tables. Routes that show or change
-- health data have grant = "health" in the manifest; the day page shows them only when
-- portal.has_grant("health"). Every page with personal data writes an audit entry.
local rules = require("lib.rules")
local readings = require("lib.readings")
local refuse = require("lib.refusal").refuse

local M = {}
local db = portal.db

local WEEKDAYS = { "日", "一", "二", "三", "四", "五", "六" }

local function now_text()
  return portal.time.date("%Y-%m-%d %H:%M:%S")
end

-- "2026-03-15 09:00:00" -> "3月15日（星期日）"
local function day_text(ts)
  local t = portal.time.parse(ts)
  return string.format("%d月%d日（星期%s）", tonumber(portal.time.date("%m", t)),
                       tonumber(portal.time.date("%d", t)), WEEKDAYS[tonumber(portal.time.date("%w", t)) + 1])
end

-- start and end times -> "3月15日（星期日）09:00—11:30"
local function when_text(starts_at, ends_at)
  return day_text(starts_at) .. starts_at:sub(12, 16) .. "—" .. ends_at:sub(12, 16)
end

-- The label of a choice of one of the manifest's forms ("18_44" -> "18—44岁"). The forms
-- do not change while this Lua state lives (a reload makes a new one), so keep the lookup.
local labels = {}
local function choice_label(form, field, value)
  local key = form .. "." .. field
  if not labels[key] then
    labels[key] = {}
    for _, f in ipairs(portal.form.schema(form).fields) do
      if f.name == field then
        for _, c in ipairs(f.choices or {}) do labels[key][c.value] = c.label end
      end
    end
  end
  return labels[key][value] or value or ""
end

-- One of this plugin's events, or nil (unknown id, or an event of another kind).
local function own_event(id)
  local ev = tonumber(id) and portal.events.get(tonumber(id))
  if ev and (ev.kind == rules.PREPREG or ev.kind == rules.SCREENING) then
    return ev
  end
end

-- The outreach day {id} of the path, or refuse (404).
local function day_of(req)
  return own_event(req.params.id) or refuse("没有找到这个健康服务日。", 404, "not_found")
end

-- The thresholds of the settings, in the shape readings.findings wants.
local function thresholds()
  local c = portal.config
  return { systolic = c.bp_systolic_high, diastolic = c.bp_diastolic_high,
           fasting_tenths = c.glucose_fasting_high, random_tenths = c.glucose_random_high }
end

-- "150/95 · 空腹血糖 7.8" (blank parts left out)
local function reading_text(r)
  local parts = {}
  if r.systolic then parts[#parts + 1] = string.format("血压 %d/%d", r.systolic, r.diastolic) end
  if r.glucose_tenths then
    parts[#parts + 1] = string.format("%s血糖 %s", r.glucose_kind == "fasting" and "空腹" or "随机",
                                      readings.tenths_text(r.glucose_tenths))
  end
  return table.concat(parts, " · ")
end

local function status_text(reg)
  if reg.status == "waitlisted" then return "候补第" .. tostring(reg.position or "") .. "位" end
  if reg.no_show then return "未到" end
  if reg.checked_in_at then return "已签到" end
  return "已报名"
end

-- The slots of an event by id, each with its "09:00—09:30" text and fill.
local function slots_of(ev)
  local list, by_id = {}, {}
  for i, s in ipairs(ev.slots or {}) do
    local item = { id = s.id, when = s.starts_at:sub(12, 16) .. "—" .. s.ends_at:sub(12, 16),
                   capacity = s.capacity, confirmed = s.confirmed, waitlisted = s.waitlisted,
                   full = s.confirmed >= s.capacity }
    list[i] = item
    by_id[s.id] = item
  end
  return list, by_id
end

-- Registrations that still count (not cancelled): confirmed ones by slot and time, then the
-- waitlist in order.
local function live_registrations(ev)
  local out = {}
  for _, reg in ipairs(portal.events.registrations(ev.id)) do
    if reg.status ~= "cancelled" then out[#out + 1] = reg end
  end
  table.sort(out, function(a, b)
    if (a.status == "waitlisted") ~= (b.status == "waitlisted") then return b.status == "waitlisted" end
    if a.status == "waitlisted" then return (a.position or 0) < (b.position or 0) end
    if (a.slot_id or 0) ~= (b.slot_id or 0) then return (a.slot_id or 0) < (b.slot_id or 0) end
    return a.created_at < b.created_at
  end)
  return out
end

-- GET /days: the outreach days of the last 90 days and the coming ones.
function M.days(req)
  local from = portal.time.date("%Y-%m-%d", portal.time.now() - 90 * 86400)
  local list = {}
  for _, ev in ipairs(portal.events.list{ from = from }) do
    list[#list + 1] = { id = ev.id, title = ev.title, when = when_text(ev.starts_at, ev.ends_at),
                        location = ev.location, kind = ev.kind == rules.PREPREG and "孕前优生健康检查" or "血压血糖免费检测",
                        status = ev.status, confirmed = ev.confirmed, capacity = ev.capacity,
                        waitlisted = ev.waitlisted, checked_in = ev.checked_in }
  end
  local year = tonumber(portal.time.date("%Y"))
  return { template = "outreach_days", data = { title = "健康服务日", days = list, years = { year, year - 1 } } }
end

-- GET /days/{id}: one day for the staff on duty.
function M.day(req)
  local ev = day_of(req)
  local prepreg = ev.kind == rules.PREPREG
  local health = portal.has_grant("health")
  local slots, slot_by_id = slots_of(ev)
  -- the latest reading of each registration (health staff only)
  local latest = {}
  if health and not prepreg then
    for _, r in ipairs(db.find("readings", { event_id = ev.id }, { order_by = "id", limit = 1000 })) do
      if r.reg_code then latest[r.reg_code] = r end
    end
  end
  local rows = {}
  for _, reg in ipairs(live_registrations(ev)) do
    local a, r = reg.answers or {}, latest[reg.code]
    local basis = ""
    if health and prepreg then
      basis = choice_label("prepreg", "basis", a.basis)
      if a.basis == "residence" then basis = basis .. "，已住" .. tostring(a.residence_months) .. "个月" end
    end
    rows[#rows + 1] = {
      code = reg.code, name = reg.name, phone = portal.mask.phone(reg.phone),
      spouse_name = a.spouse_name or "",
      age = prepreg and "" or choice_label("screening", "age_band", a.age_band),
      slot = reg.slot_id and slot_by_id[reg.slot_id] and slot_by_id[reg.slot_id].when or "",
      status = status_text(reg), checked_in = reg.checked_in_at ~= nil,
      confirmed = reg.status == "confirmed",
      basis = basis,
      reading = r and reading_text(r) or "", abnormal = r ~= nil and r.abnormal == 1,
    }
  end
  local followups, open = {}, 0
  if health then
    for _, f in ipairs(db.find("followups", { event_id = ev.id }, { order_by = "status desc, id", limit = 1000 })) do
      followups[#followups + 1] = { id = f.id, code = f.reg_code or "（已匿名）", reason = f.reason or "",
                                    done = f.status == "done", done_by = f.done_by or "", done_at = f.done_at or "",
                                    reading_id = f.reading_id }
      if f.status ~= "done" then open = open + 1 end
    end
  end
  -- PIPL: every view of residents' data is logged; "health.view" when health data was shown
  portal.audit(health and "health.view" or "day.view", "event", tostring(ev.id), { rows = #rows })
  return { template = "outreach_day", data = {
    title = ev.title, notice = req.query.notice and "已标记为完成。" or "",
    event = { id = ev.id, title = ev.title, when = when_text(ev.starts_at, ev.ends_at), location = ev.location,
              capacity = ev.capacity, confirmed = ev.confirmed, waitlisted = ev.waitlisted,
              checked_in = ev.checked_in },
    prepreg = prepreg, health = health, slots = slots, rows = rows, followups = followups, open_followups = open,
  } }
end

-- GET /days/{id}/print: the sign-in sheet of one day, phones masked, nothing sensitive.
function M.print(req)
  local ev = day_of(req)
  local _, slot_by_id = slots_of(ev)
  local rows = {}
  for _, reg in ipairs(live_registrations(ev)) do
    if reg.status == "confirmed" then
      local spouse = (reg.answers or {}).spouse_name
      rows[#rows + 1] = { name = spouse and (reg.name .. "、" .. spouse) or reg.name,
                          phone = portal.mask.phone(reg.phone), code = reg.code,
                          slot = reg.slot_id and slot_by_id[reg.slot_id] and slot_by_id[reg.slot_id].when or "" }
    end
  end
  portal.audit("list.print", "event", tostring(ev.id), { rows = #rows })
  return { template = "outreach_print", data = {
    title = "签到表", event = { id = ev.id, title = ev.title, when = when_text(ev.starts_at, ev.ends_at),
                                location = ev.location },
    prepreg = ev.kind == rules.PREPREG, rows = rows, count = #rows } }
end

-- The registration {code} of screening day {id} of the path, with the day; refuse (404)
-- when it is not one.
local function screening_registration(req)
  local ev = own_event(req.params.id)
  local reg = ev and ev.kind == rules.SCREENING and portal.events.registration(req.params.code or "")
  if reg and reg.event_id == ev.id then
    return ev, reg
  end
  refuse("这个报名码不是这次检测的报名。", 404, "not_found")
end

local function reading_page(status, ev, reg, input, errors, saved)
  local list = {}
  for _, r in ipairs(db.find("readings", { reg_code = reg.code, event_id = ev.id }, { order_by = "id" })) do
    list[#list + 1] = { id = r.id, text = reading_text(r), abnormal = r.abnormal == 1,
                        note = r.referral_note or "", at = r.recorded_at:sub(12, 16), by = r.recorded_by or "" }
  end
  portal.audit("health.view", "registration", reg.code, { event_id = ev.id })
  return { status = status, template = "outreach_reading", data = {
    title = "记录测量结果", event = { id = ev.id, title = ev.title },
    reg = { code = reg.code, name = reg.name, age = choice_label("screening", "age_band", (reg.answers or {}).age_band),
            confirmed = reg.status == "confirmed" },
    readings = list, saved = saved == true, error = errors and "有几处需要改一下，请看标红的地方。" or "",
    fields = portal.form.view("reading", input, errors) } }
end

-- GET /days/{id}/readings/{code}: the resident's readings so far and the form for a new one.
function M.reading_form(req)
  local ev, reg = screening_registration(req)
  return reading_page(200, ev, reg, nil, nil, req.query.saved ~= nil)
end

-- Store one reading of registration code at event ev ({id, ends_at}); values are the
-- validated "reading" form. An abnormal reading gets a referral note and (once per resident
-- and event) a follow-up item, in the same transaction. Returns true when it was abnormal.
function M.store(ev, code, values, by)
  local r = { systolic = values.systolic, diastolic = values.diastolic,
              glucose_tenths = values.glucose and readings.glucose_tenths(values.glucose),
              glucose_kind = values.glucose and values.glucose_kind }
  local found = readings.findings(r, thresholds())
  local stamp = now_text()
  db.transaction(function()
    local id = db.insert("readings", {
      event_id = ev.id, event_ends_at = ev.ends_at, reg_code = code,
      systolic = r.systolic, diastolic = r.diastolic, glucose_tenths = r.glucose_tenths, glucose_kind = r.glucose_kind,
      abnormal = #found > 0, referral_note = #found > 0 and readings.referral_note(found) or nil,
      recorded_by = by, recorded_at = stamp })
    if #found > 0 then
      -- unique (event_id, reg_code): a second abnormal reading keeps the one open item
      db.insert("followups", { event_id = ev.id, event_ends_at = ev.ends_at, reg_code = code, reading_id = id,
                               reason = table.concat(found, "；"), status = "open", created_at = stamp })
    end
  end)
  return #found > 0
end

-- POST /days/{id}/readings/{code}: record a reading (M.store).
function M.record_reading(req)
  local ev, reg = screening_registration(req)
  if reg.status ~= "confirmed" then
    refuse("这位居民现在不是“已报名”（在候补或已取消），不能记录测量结果。", 409, "conflict")
  end
  local ok, v, errors = portal.form.validate("reading")
  if not ok then
    return reading_page(422, ev, reg, req.form, errors)
  end
  local abnormal = M.store(ev, reg.code, v, portal.user().username)
  portal.audit("reading.record", "registration", reg.code, { event_id = ev.id, abnormal = abnormal })
  return { redirect = string.format("/p/outreach/days/%d/readings/%s?saved=1", ev.id, reg.code) }
end

-- GET /readings/{id}/slip: the referral note, printed for the resident.
function M.slip(req)
  local r = db.get("readings", tonumber(req.params.id) or 0)
  local reg = r and r.referral_note and r.reg_code and portal.events.registration(r.reg_code)
  local ev = reg and own_event(r.event_id)
  if not ev then refuse("没有这张转诊建议单（可能已经过了保存期限）。", 404, "not_found") end
  portal.audit("referral.print", "registration", reg.code, { event_id = ev.id })
  return { template = "outreach_slip", data = {
    title = "转诊建议单", name = reg.name, code = reg.code, event = ev.title, day = day_text(ev.starts_at),
    reading = reading_text(r), note = r.referral_note } }
end

-- POST /followups/{id}/done: the staff member called the resident (or saw them again).
function M.followup_done(req)
  local f = db.get("followups", tonumber(req.params.id) or 0)
  if not f then refuse("没有这条随访。", 404, "not_found") end
  if f.status ~= "done" then
    db.update("followups", { id = f.id }, { status = "done", done_by = portal.user().username, done_at = now_text() })
    portal.audit("followup.done", "followup", tostring(f.id), { event_id = f.event_id })
  end
  return { redirect = string.format("/p/outreach/days/%d?notice=done#followups", f.event_id) }
end

-- GET /summary.csv?year=2026: per outreach day of the year and per kind: registered,
-- attended, referrals, follow-ups done. Counts only, but audited as an export.
function M.summary_csv(req)
  local year = req.query.year or portal.time.date("%Y")
  if not year:match("^20%d%d$") then
    refuse("年份不对，请写四位数，例如 2026。", 400, "bad_request")
  end
  local fu = {}
  for _, row in ipairs(db.query("followups_by_event", { year .. "-01-01", (tonumber(year) + 1) .. "-01-01" })) do
    fu[row.event_id] = row
  end
  local header = { "年度", "活动类型", "活动", "日期", "报名人数", "到场人数", "异常转诊", "随访已完成" }
  local rows, totals = { header }, {}
  local today = portal.time.date("%Y-%m-%d %H:%M:%S")
  for _, ev in ipairs(portal.events.list{ from = year .. "-01-01", to = year .. "-12-31" }) do
    -- a round "held": published (or closed) and already started; drafts and cancelled ones are not
    if ev.status ~= "draft" and ev.status ~= "cancelled" and ev.starts_at <= today then
      local kind = ev.kind == rules.PREPREG and "孕前优生健康检查" or "血压血糖免费检测"
      local f = fu[ev.id] or { n = 0, done = 0 }
      rows[#rows + 1] = { year, kind, ev.title, ev.starts_at:sub(1, 10), tostring(ev.confirmed),
                          tostring(ev.checked_in), tostring(f.n), tostring(f.done) }
      local t = totals[kind] or { rounds = 0, confirmed = 0, checked_in = 0, n = 0, done = 0 }
      t.rounds, t.confirmed, t.checked_in = t.rounds + 1, t.confirmed + ev.confirmed, t.checked_in + ev.checked_in
      t.n, t.done = t.n + f.n, t.done + f.done
      totals[kind] = t
    end
  end
  for _, kind in ipairs({ "孕前优生健康检查", "血压血糖免费检测" }) do
    local t = totals[kind] or { rounds = 0, confirmed = 0, checked_in = 0, n = 0, done = 0 }
    rows[#rows + 1] = { year, kind, "合计", "共" .. t.rounds .. "场", tostring(t.confirmed), tostring(t.checked_in),
                        tostring(t.n), tostring(t.done) }
  end
  portal.audit("summary.export", "year", year, { rows = #rows - 1 })
  return { text = portal.csv.encode(rows), content_type = "text/csv; charset=utf-8",
           headers = { ["Content-Disposition"] = string.format('attachment; filename="outreach-%s.csv"', year) } }
end

return M
