-- jobs.lua - what runs without a person waiting: shifts generated from care plans, and
-- text messages (reminders the day before, calls for help on a short-handed shift).
-- Each is safe to run twice: a UNIQUE key decides what already exists.
local db = portal.db
local C = require("lib.common")
local R = require("lib.rules")
local M = {}

-- Create the shifts of every active plan (or of one plan) for the next
-- portal.config.plan_weeks weeks. Returns the number of shifts added.
function M.generate(plan_id)
  local where = plan_id and { id = plan_id } or { active = 1 }
  local plans = db.find("plans", where, { order_by = "id", limit = 1000 })
  local today = portal.time.parse(portal.time.today())
  local now = C.now_text()
  local added = 0
  for _, p in ipairs(plans) do
    for d = 0, portal.config.plan_weeks * 7 - 1 do
      -- noon of each day, so a daylight or leap second never shifts the date
      local day = portal.time.date("%Y-%m-%d", today + d * 86400 + 12 * 3600)
      local starts_at = day .. " " .. p.start_time .. ":00"
      if C.weekday(day) == p.weekday and starts_at > now then
        local id, err = db.insert("shifts", {
          kind = "visit", role = p.role, place = "", resident_name = p.resident_name,
          resident_address = p.resident_address, resident_phone = p.resident_phone,
          starts_at = starts_at, ends_at = day .. " " .. p.end_time .. ":00",
          headcount = p.headcount, skill = p.skill, plan_id = p.id, note = p.title,
          created_at = now, created_by = "plan",
        })
        if id then
          added = added + 1
        elseif err ~= "duplicate" then
          error("shift not created: " .. tostring(err))
        end
      end
    end
  end
  return added
end

-- Queue one message to a volunteer about a shift, once per (shift, volunteer, kind):
-- the messages row and the outbox row commit together. Returns true when queued now.
local function queue_once(shift, vol, kind, body)
  return db.transaction(function()
    local id = db.insert("messages", { shift_id = shift.id, volunteer_id = vol.id, kind = kind,
                                       created_at = C.now_text() })
    if not id then
      return false                          -- "duplicate": sent before
    end
    portal.outbox.queue{ phone = vol.phone, body = body, kind = kind == "call" and "notice" or "reminder" }
    return true
  end)
end

local function where_text(shift)
  if shift.kind == "visit" then
    return "上门探访（地址请登录后在“我的班次”查看）"
  end
  return shift.place
end

-- Reminders for every shift that starts tomorrow, to each volunteer on it. Returns the
-- number queued now.
function M.remind()
  local today = portal.time.parse(portal.time.today())
  local from = portal.time.date("%Y-%m-%d", today + 86400 + 12 * 3600) .. " 00:00:00"
  local to = portal.time.date("%Y-%m-%d", today + 2 * 86400 + 12 * 3600) .. " 00:00:00"
  local n = 0
  for _, row in ipairs(db.query("to_remind", { from, to })) do
    local shift = { id = row.shift_id, kind = row.kind, place = row.place }
    local body = string.format("【社区志愿服务】提醒：您报名了明天%s的“%s”，地点：%s。去不了请尽早告诉社区工作人员。",
                               C.when(row.starts_at, row.ends_at), row.role, where_text(shift))
    if queue_once(shift, { id = row.volunteer_id, phone = row.phone }, "reminder", body) then
      n = n + 1
    end
  end
  return n
end

-- Ask the qualified, free volunteers to help on a short-handed shift (each volunteer
-- once per shift). Returns the number of messages queued now.
function M.call_for(shift)
  local n = 0
  local body = string.format("【社区志愿服务】%s的“%s”（%s）还缺人，您有空的话请登录志愿服务页面报名，谢谢！",
                             C.when(shift.starts_at, shift.ends_at), shift.role, where_text(shift))
  for _, vol in ipairs(R.candidates(shift)) do
    if queue_once(shift, vol, "call", body) then
      n = n + 1
    end
  end
  return n
end

-- Retention, run daily. Visits that ended more than visit_keep_days ago lose the
-- resident's name, address and phone and their notes' text (a visit with a concern still
-- open keeps them until staff mark it handled); volunteers inactive for more than
-- inactive_keep_days are anonymised (their hours stay, under no name). Logged with the
-- counts only. Returns the number of visits and of volunteers changed now.
local PURGED_NOTE = "（已过保存期限，内容已删除）"

local function purge_visits(cut, now)
  local open = {}
  for _, n in ipairs(db.find("notes", { concern_open = 1 }, { limit = 1000 })) do
    open[n.shift_id] = true
  end
  local n, last = 0, 0
  while true do
    local rows = db.find("shifts", { kind = "visit", purged_at = db.NULL, ends_at = { "<", cut }, id = { ">", last } },
                         { order_by = "id", limit = 500 })
    local ids = {}
    for _, s in ipairs(rows) do
      if not open[s.id] then
        ids[#ids + 1] = s.id
      end
    end
    if #ids > 0 then
      db.transaction(function()
        db.update("shifts", { id = { "in", ids } }, { resident_name = db.NULL, resident_address = db.NULL,
                                                      resident_phone = db.NULL, purged_at = now })
        db.update("notes", { shift_id = { "in", ids } }, { done_text = PURGED_NOTE, concern = "" })
      end)
      n = n + #ids
    end
    if #rows < 500 then
      return n
    end
    last = rows[#rows].id
  end
end

local function anonymise_volunteers(cut, now)
  local n = 0
  while true do
    local rows = db.find("volunteers", { status = "inactive", anonymised_at = db.NULL, inactive_since = { "<", cut } },
                         { order_by = "id", limit = 500 })
    for _, v in ipairs(rows) do
      -- the phone is UNIQUE and NOT NULL: a placeholder no mobile number can be (it starts
      -- with 0); the username was "v" + the mobile number
      db.update("volunteers", { id = v.id, anonymised_at = db.NULL }, {
        name = "已匿名", phone = string.format("0%010d", v.id), skills = "", days = "", parts = "",
        availability_note = "", username = db.NULL, anonymised_at = now })
    end
    n = n + #rows
    if #rows < 500 then
      return n
    end
  end
end

function M.retention()
  local now_t = portal.time.now()
  local now = C.at(now_t)
  local visits = purge_visits(C.at(now_t - portal.config.visit_keep_days * 86400), now)
  local volunteers = anonymise_volunteers(C.at(now_t - portal.config.inactive_keep_days * 86400), now)
  portal.log.info("volunteers retention", { visits_purged = visits, volunteers_anonymised = volunteers,
                                            visit_keep_days = portal.config.visit_keep_days,
                                            inactive_keep_days = portal.config.inactive_keep_days })
  return visits, volunteers
end

return M
