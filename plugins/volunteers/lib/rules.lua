-- rules.lua - who may take which shift: skill, cut-off, no overlap, headcount. Every
-- change runs in one transaction with the volunteer's row and the shift's row locked, so
-- two requests racing for the last place (or one person racing for two overlapping
-- shifts) are decided by the database, not by luck.
local db = portal.db
local C = require("lib.common")
local refuse = require("lib.refusal").refuse
local M = {}

M.MESSAGES = {
  not_found = "找不到这个班次。",
  inactive = "您的志愿者资料还没有启用，请联系社区工作人员。",
  started = "这个班次已经开始或结束了。",
  cutoff = "报名和退出在班次开始前%d小时截止。如有变化，请直接联系社区工作人员。",
  skill = "这个班次需要“%s”，您的资料里没有这一项，所以不能报名。",
  already = "您已经报名了这个班次。",
  overlap = "这个时间您已经报名了别的班次，同一时间只能参加一个。",
  full = "这个班次的人数已经满了，谢谢您。",
  not_signed = "您没有报名这个班次。",
}

local STATUS = { not_found = 404, inactive = 403, skill = 403 }

-- Refuse with the message of a refusal code (the code is also the API's error code).
function M.refuse(code, shift)
  local msg = M.MESSAGES[code] or code
  if code == "cutoff" then
    msg = msg:format(portal.config.cutoff_hours)
  elseif code == "skill" then
    msg = msg:format(C.skill_label(shift and shift.skill))
  end
  refuse(msg, STATUS[code] or 409, code)
end

-- true when the shift needs no skill or the volunteer has it
function M.qualifies(vol, shift)
  return shift.skill == nil or shift.skill == "" or C.has(vol.skills, shift.skill)
end

-- true when sign-up and withdrawal are closed for volunteers (staff may still change it)
function M.past_cutoff(shift)
  local starts = portal.time.parse(shift.starts_at)
  return portal.time.now() > starts - portal.config.cutoff_hours * 3600
end

-- "started" or "cutoff" when volunteers may no longer change the shift themselves, else nil
function M.closed(shift)
  if shift.starts_at <= C.now_text() then
    return "started"
  elseif M.past_cutoff(shift) then
    return "cutoff"
  end
end

-- true when the volunteer said they are free on the shift's weekday and part of the day
-- (nothing ticked means "ask me any time")
function M.available(vol, shift)
  local days, parts = vol.days or "", vol.parts or ""
  return (days == "" or C.has(days, tostring(C.weekday(shift.starts_at))))
     and (parts == "" or C.has(parts, C.part(shift.starts_at)))
end

-- Write the rows a sign-up decided on (the shift: headcount; the volunteer: overlaps).
-- SELECT ... FOR UPDATE locks rows on one database node only: on a Galera cluster two nodes
-- may both count a seat left and each insert an assignment, and only rows that both
-- transactions write make Galera refuse one of them (1213 at COMMIT, rerun by the host).
-- Bumping rev puts the shift and the volunteer into the write set (docs/architecture.md).
function M.claim(shift, vol)
  db.update("shifts", { id = shift.id }, { rev = (shift.rev or 0) + 1 })
  if vol then
    db.update("volunteers", { id = vol.id }, { rev = (vol.rev or 0) + 1 })
  end
end

-- Put a volunteer on a shift. by_staff: staff assign, which skips the cut-off and may
-- record a shift that already took place; everything else holds for staff too.
-- Returns { id = assignment id, shift = row }, or refuses (M.refuse) with nothing written.
function M.take(shift_id, volunteer_id, by_staff)
  return db.transaction(function()
    local vol = db.query("lock_volunteer", { volunteer_id })[1]
    local shift = db.query("lock_shift", { shift_id })[1]
    if not shift then
      M.refuse("not_found")
    end
    if not vol or vol.status ~= "active" then
      M.refuse("inactive", shift)
    end
    local closed = not by_staff and M.closed(shift)
    if closed then
      M.refuse(closed, shift)
    end
    if not M.qualifies(vol, shift) then
      M.refuse("skill", shift)
    end
    if db.count("assignments", { shift_id = shift.id, volunteer_id = vol.id }) > 0 then
      M.refuse("already", shift)
    end
    if db.query("overlapping", { vol.id, shift.ends_at, shift.starts_at })[1].n > 0 then
      M.refuse("overlap", shift)
    end
    if db.query("taken", { shift.id })[1].n >= shift.headcount then
      M.refuse("full", shift)
    end
    local id = db.insert("assignments", {
      shift_id = shift.id, volunteer_id = vol.id, by_staff = by_staff and 1 or 0,
      created_at = C.now_text(),
    })
    M.claim(shift, vol)
    return { id = id, shift = shift }
  end)
end

-- Take a volunteer off a shift. by_staff skips the cut-off. Returns { shift = row }, or
-- refuses like take.
function M.release(shift_id, volunteer_id, by_staff)
  return db.transaction(function()
    local shift = db.query("lock_shift", { shift_id })[1]
    if not shift then
      M.refuse("not_found")
    end
    local closed = not by_staff and M.closed(shift)
    if closed then
      M.refuse(closed, shift)
    end
    local n = db.delete("assignments", { shift_id = shift.id, volunteer_id = volunteer_id })
    if n == 0 then
      M.refuse("not_signed", shift)
    end
    M.claim(shift)
    return { shift = shift }
  end)
end

-- Shifts starting in [from, to) with how many have taken each (no resident data: this
-- list is what volunteers browse).
function M.upcoming(from, to)
  return db.query("upcoming", { from, to })
end

-- The ids of the volunteers busy during [starts_at, ends_at) (on any shift).
function M.busy(starts_at, ends_at)
  local set = {}
  for _, r in ipairs(db.query("busy", { ends_at, starts_at })) do
    set[r.volunteer_id] = true
  end
  return set
end

-- Active volunteers who have the shift's skill, said they are free then, and are on no
-- shift at that time (nor on this one).
function M.candidates(shift)
  local busy = M.busy(shift.starts_at, shift.ends_at)
  local out = {}
  for _, v in ipairs(db.find("volunteers", { status = "active" }, { order_by = "id", limit = 1000 })) do
    if not busy[v.id] and M.qualifies(v, shift) and M.available(v, shift) then
      out[#out + 1] = v
    end
  end
  return out
end

return M
