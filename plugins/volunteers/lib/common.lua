-- common.lua - small helpers shared by the pages, the sign-up rules and the jobs:
-- times, skills, availability, who is signed in.
local db = portal.db
local M = {}

M.SKILLS = {
  { "medical", "医护或急救" },
  { "driving", "会开车" },
  { "cleaning", "家政保洁" },
  { "company", "陪伴聊天" },
  { "repair", "小家电维修" },
}
M.DAYS = {
  { "1", "周一" }, { "2", "周二" }, { "3", "周三" }, { "4", "周四" },
  { "5", "周五" }, { "6", "周六" }, { "7", "周日" },
}
M.PARTS = { { "am", "上午" }, { "pm", "下午" }, { "eve", "晚上" } }

local function label_of(list, value)
  for _, c in ipairs(list) do
    if c[1] == value then
      return c[2]
    end
  end
  return value
end

function M.skill_label(v)
  if v == nil or v == "" then
    return ""
  end
  return label_of(M.SKILLS, v)
end

-- {"medical","driving"} <-> ",medical,driving," (so a LIKE or find can match one value)
function M.pack(list)
  if not list or #list == 0 then
    return ""
  end
  return "," .. table.concat(list, ",") .. ","
end

function M.unpack(s)
  local out = {}
  for v in (s or ""):gmatch("[^,]+") do
    out[#out + 1] = v
  end
  return out
end

function M.has(packed, v)
  return (packed or ""):find("," .. v .. ",", 1, true) ~= nil
end

function M.labels(packed, list)
  local out = {}
  for _, v in ipairs(M.unpack(packed)) do
    out[#out + 1] = label_of(list, v)
  end
  return table.concat(out, "、")
end

-- The volunteers row of the "join" form's values, with the given status.
function M.profile_row(v, status)
  return { name = v.name, phone = v.phone, skills = M.pack(v.skills), days = M.pack(v.days),
           parts = M.pack(v.parts), availability_note = v.availability_note or "", status = status,
           created_at = M.now_text() }
end

-- Times ---------------------------------------------------------------------------------

function M.now_text()
  return portal.time.date("%Y-%m-%d %H:%M:%S")
end

function M.at(t)
  return portal.time.date("%Y-%m-%d %H:%M:%S", t)
end

local WEEKDAYS = { "日", "一", "二", "三", "四", "五", "六" }

-- "2025-06-15 09:00:00", "2025-06-15 11:30:00" -> "6月15日（周日）09:00—11:30"
function M.when(starts_at, ends_at)
  local t = portal.time.parse(starts_at)
  if not t then
    return starts_at
  end
  local w = tonumber(portal.time.date("%w", t))
  local s = string.format("%d月%d日（周%s）%s", tonumber(portal.time.date("%m", t)),
                          tonumber(portal.time.date("%d", t)), WEEKDAYS[w + 1], starts_at:sub(12, 16))
  if ends_at then
    if ends_at:sub(1, 10) == starts_at:sub(1, 10) then
      s = s .. "—" .. ends_at:sub(12, 16)
    else
      s = s .. "—" .. ends_at:sub(6, 16)
    end
  end
  return s
end

-- ISO weekday 1 (Monday) .. 7 (Sunday) of a "YYYY-MM-DD ..." text
function M.weekday(text)
  local t = portal.time.parse(text:sub(1, 10))
  local w = tonumber(portal.time.date("%w", t))
  return w == 0 and 7 or w
end

-- part of the day a shift starts in: am before 12:00, pm before 18:00, else eve
function M.part(text)
  local h = tonumber(text:sub(12, 13))
  if h < 12 then
    return "am"
  elseif h < 18 then
    return "pm"
  end
  return "eve"
end

-- minutes between two "YYYY-MM-DD HH:MM:SS" texts
function M.minutes_between(a, b)
  return (portal.time.parse(b) - portal.time.parse(a)) // 60
end

-- "HH:MM" -> true when a real time of day
function M.is_hhmm(s)
  local h, m = (s or ""):match("^(%d%d):(%d%d)$")
  return h ~= nil and tonumber(h) < 24 and tonumber(m) < 60
end

-- validate(values) of the shift and plan forms: "HH:MM" times, the end after the start
function M.check_times(values)
  local errs = {}
  if not M.is_hhmm(values.start) then
    errs.start = "开始时间请按“时:分”填写，例如 09:00。"
  end
  if not M.is_hhmm(values["end"]) then
    errs["end"] = "结束时间请按“时:分”填写，例如 11:30。"
  elseif not errs.start and values["end"] <= values.start then
    errs["end"] = "结束时间要晚于开始时间。"
  end
  if next(errs) then
    return errs
  end
end

-- 150 -> "2.5"; 120 -> "2"
function M.hours_text(minutes)
  minutes = math.tointeger(minutes) or math.floor((minutes or 0) + 0.5)
  if minutes % 60 == 0 then
    return tostring(minutes // 60)
  end
  local s = string.format("%.2f", minutes / 60):gsub("0+$", "")
  return s
end

-- "2.5" -> 150; nil, message when not a number of hours from 0 to 24 (quarters at most)
function M.parse_hours(s)
  s = (s or ""):gsub("^%s+", ""):gsub("%s+$", "")
  if not s:match("^%d+$") and not s:match("^%d*%.%d+$") then
    return nil, "时长请填数字，例如 2 或 2.5（小时）。"
  end
  local minutes = math.floor(tonumber(s) * 60 + 0.5)
  if minutes > 24 * 60 then
    return nil, "时长不能超过24小时。"
  end
  return minutes
end

-- The {id} of the path as an integer; 0 (matching no row) when it is not one.
function M.path_id(req)
  return math.tointeger(tonumber(req.params.id)) or 0
end

-- Who is signed in -----------------------------------------------------------------------

-- The signed-in volunteer's row, or nil. A profile is linked by username, which the core
-- never changes once an account exists (the account id is kept beside it).
function M.me()
  local u = portal.user()
  if not u then
    return nil
  end
  local rows = db.find("volunteers", { username = u.username, status = "active" }, { limit = 1 })
  return rows[1]
end

function M.staff_name()
  local u = portal.user()
  return u and u.username or "api"
end

return M
