-- pages.lua - the public application form and the volunteer's own pages: open shifts,
-- sign-up and withdrawal, their shifts (with a visit's name and address), visit notes.
local db = portal.db
local C = require("lib.common")
local R = require("lib.rules")
local refuse = require("lib.refusal").refuse
local M = {}

-- Public application ------------------------------------------------------------------

local function join_form(status, input, errors, notice)
  return { status = status, template = "volunteers_join",
           data = { title = "报名当志愿者", notice = notice or "",
                    fields = portal.form.view("join", input, errors) } }
end

function M.join_page()
  return join_form(200)
end

function M.join_post(req)
  local ok, v, errors = portal.form.validate("join")
  if not ok then
    return join_form(422, req.form, errors, "有几处需要改一下，请看标红的地方。")
  end
  local id = db.insert("volunteers", C.profile_row(v, "pending"))
  if not id then
    return join_form(409, req.form, nil, "这个手机号已经报过名了，社区工作人员审核后会打电话告诉您。")
  end
  return { template = "volunteers_joined",
           data = { title = "报名已收到", name = v.name, phone = portal.mask.phone(v.phone) } }
end

-- The volunteer's page ------------------------------------------------------------------

-- The signed-in volunteer's row, or refuse (403) when the account has no profile.
local function signed_in()
  return C.me() or refuse("您的账号还没有对应的志愿者资料，请联系社区工作人员。", 403, "no_profile")
end

local function where_public(s)
  if s.kind == "visit" then
    return "上门探访（报名后可以看到地址）"
  end
  return s.place
end

-- One shift as the volunteer's list shows it; resident data only for their own.
local function mine_item(s, own)
  local visit = s.kind == "visit"
  return {
    id = s.id, role = s.role, when = C.when(s.starts_at, s.ends_at),
    event_title = s.event_title or "",
    place = visit and "" or s.place, visit = visit,
    resident_name = own and visit and s.resident_name or "",
    resident_address = own and visit and s.resident_address or "",
  }
end

local NOTICES = {
  signed = "报名成功。班次前一天会发短信提醒您。",
  withdrawn = "已经退出这个班次。",
  noted = "探访记录已保存，谢谢您！",
}

function M.me(req)
  local vol = signed_in()
  local now = C.now_text()
  local mine, past, minutes, mine_ids = {}, {}, 0, {}
  for _, s in ipairs(db.query("mine", { vol.id })) do
    mine_ids[s.id] = true
    if s.ends_at > now then
      local it = mine_item(s, true)
      it.can_withdraw = not R.past_cutoff(s)
      it.can_note = s.kind == "visit" and s.starts_at <= now
      table.insert(mine, 1, it)             -- the query is newest first: soonest on top
    else
      local it = mine_item(s, true)
      it.can_note = s.kind == "visit"
      it.attendance = s.attendance == "present" and "已参加" or s.attendance == "no_show" and "未到" or "待确认"
      it.hours = s.attendance == "present" and C.hours_text(s.minutes or 0) or ""
      if s.attendance == "present" then
        minutes = minutes + (s.minutes or 0)
      end
      past[#past + 1] = it
    end
  end
  local open = {}
  local until_ = C.at(portal.time.now() + portal.config.show_weeks * 7 * 86400)
  for _, s in ipairs(R.upcoming(now, until_)) do
    if not mine_ids[s.id] and R.qualifies(vol, s) and s.taken < s.headcount then
      local it = mine_item(s, false)
      it.place = where_public(s)
      it.free = s.headcount - s.taken
      it.skill = C.skill_label(s.skill)
      it.closed = R.past_cutoff(s)
      open[#open + 1] = it
    end
  end
  return { template = "volunteers_me", data = {
    title = "我的志愿服务", name = vol.name, skills = C.labels(vol.skills, C.SKILLS),
    notice = NOTICES[req.query.done or ""] or "", mine = mine, open = open, past = past,
    total_hours = C.hours_text(minutes), cutoff_hours = portal.config.cutoff_hours,
  } }
end

-- JSON: the open shifts the signed-in volunteer may take (what the page lists)
function M.api_open()
  local vol = signed_in()
  local now = C.now_text()
  local out = {}
  for _, s in ipairs(R.upcoming(now, C.at(portal.time.now() + portal.config.show_weeks * 7 * 86400))) do
    if R.qualifies(vol, s) then
      out[#out + 1] = { id = s.id, kind = s.kind, role = s.role, place = s.kind == "visit" and "" or s.place,
                        starts_at = s.starts_at, ends_at = s.ends_at, headcount = s.headcount,
                        taken = s.taken, skill = s.skill, closed = R.past_cutoff(s) }
    end
  end
  return { json = { shifts = out } }
end

-- sign up (R.take) or withdraw (R.release) the signed-in volunteer
local function own_change(req, rule, api_status, api_json, done)
  local res = rule(C.path_id(req), signed_in().id, false)
  if req.is_api then
    return { status = api_status, json = api_json(res) }
  end
  return { redirect = "/p/volunteers/me?done=" .. done }
end

function M.signup(req)
  return own_change(req, R.take, 201, function(res)
    return { assignment_id = res.id, shift_id = res.shift.id }
  end, "signed")
end

function M.withdraw(req)
  return own_change(req, R.release, 200, function(res)
    return { shift_id = res.shift.id, withdrawn = true }
  end, "withdrawn")
end

-- The signed-in volunteer, shift {id} and whether they are on it (refuses when there is no
-- such shift).
local function own_shift(req)
  local vol = signed_in()
  local s = db.get("shifts", C.path_id(req)) or R.refuse("not_found")
  local own = db.count("assignments", { shift_id = s.id, volunteer_id = vol.id }) > 0
  return vol, s, own
end

function M.shift(req)
  local vol, s, own = own_shift(req)
  if s.kind == "visit" and not own then
    R.refuse("not_found")           -- another volunteer's visit: not even that it exists
  end
  local it = mine_item(s, own)
  if not own then
    it.place = where_public(s)
  end
  if own and s.kind == "visit" then
    portal.audit("visit.view", "shift", tostring(s.id), { volunteer_id = vol.id })
  end
  return { template = "volunteers_shift", data = {
    title = s.role, shift = it, own = own, skill = C.skill_label(s.skill), note = s.note,
  } }
end

local function note_form(status, s, input, errors)
  return { status = status, template = "volunteers_note", data = {
    title = "探访记录", shift = mine_item(s, true), fields = portal.form.view("note", input, errors),
  } }
end

-- only the volunteer on a visit, once it has started
local function note_shift(req)
  local vol, s, own = own_shift(req)
  if not own or s.kind ~= "visit" then
    R.refuse("not_signed")
  end
  if s.starts_at > C.now_text() then
    refuse("探访开始以后才能写记录。", 409, "too_early")
  end
  return vol, s
end

function M.note_page(req)
  local vol, s = note_shift(req)
  local old = db.find("notes", { shift_id = s.id, volunteer_id = vol.id }, { limit = 1 })[1]
  return note_form(200, s, old and { done_text = old.done_text, concern = old.concern })
end

function M.note_post(req)
  local vol, s = note_shift(req)
  local ok, v, errors = portal.form.validate("note")
  if not ok then
    return note_form(422, s, req.form, errors)
  end
  local concern = v.concern or ""
  local row = { done_text = v.done_text, concern = concern, concern_open = concern ~= "" and 1 or 0 }
  db.transaction(function()
    local n = db.update("notes", { shift_id = s.id, volunteer_id = vol.id }, row)
    if n == 0 then
      row.shift_id, row.volunteer_id, row.created_at = s.id, vol.id, C.now_text()
      db.insert("notes", row)
    end
  end)
  return { redirect = "/p/volunteers/me?done=noted" }
end

return M
