-- lib/rules.lua - who may have the free pre-pregnancy check, and what makes a couple "the
-- same couple". Plain functions of plain values: the hooks in plugin.lua call them with the
-- registration, the tests call them directly.
local M = {}

-- The kinds of event this plugin provides (ids are global: prefixed with the plugin's id).
M.PREPREG = "outreach_prepreg"
M.SCREENING = "outreach_screening"

-- Eligibility of a couple for the free check (registration.validate). answers are the
-- validated answers of the "prepreg" form; min_months the setting min_residence_months.
-- Returns nil when eligible, else { ["answers.<field>"] = "why, in plain Chinese" }.
function M.eligibility(answers, min_months)
  if answers.planned ~= true then
    return { ["answers.planned"] =
      "免费孕前优生健康检查是为准备怀孕的夫妻安排的。你们近期没有怀孕打算的话，这次先不用报名；" ..
      "以后有打算了，欢迎再来。" }
  end
  if answers.basis == "hukou" then
    return nil
  end
  if answers.basis == "residence" then
    local months = answers.residence_months or 0
    if months >= min_months then
      return nil
    end
    return { ["answers.residence_months"] = string.format(
      "夫妻双方都不是本地户籍的，要在本地住满%d个月才能免费检查。你们住了%d个月，再过%d个月就可以报名了。",
      min_months, months, min_months - months) }
  end
  -- "none": neither spouse is registered here and they do not live here
  return { ["answers.basis"] = string.format(
    "免费检查只面向夫妻至少一方是本地户籍，或者在本地住满%d个月的家庭，你们暂时不符合。" ..
    "可以到社区卫生服务中心咨询自费检查。", min_months) }
end

-- A name as people type it: spaces (also full-width) dropped, the dots of minority names
-- (· ・ • .) made one, Latin letters in upper case.
local function norm_name(s)
  s = (s or ""):gsub("%s", ""):gsub("\u{3000}", "")
  s = s:gsub("\u{30FB}", "·"):gsub("\u{2022}", "·"):gsub("%.", "·")
  return s:upper()
end

-- The couple's identity for "one free check per couple per round": both spouses' normalised
-- names with the last four characters of their ID numbers, in a fixed order so that it does
-- not matter which spouse filled in the form. The round is the calendar year of the event
-- (the check is free once a year; offices hold two or three days a year). The core keeps
-- only sha256 of the key (HOST_API B2).
function M.couple_key(year, name, answers)
  local a = norm_name(name) .. "#" .. (answers.id_tail or ""):upper()
  local b = norm_name(answers.spouse_name) .. "#" .. (answers.spouse_id_tail or ""):upper()
  if b < a then
    a, b = b, a
  end
  return string.format("couple:%s:%s|%s", year, a, b)
end

-- "1234" or "123X": the last four characters of a resident ID number.
function M.is_id_tail(s)
  return s ~= nil and s:upper():match("^%d%d%d[%dX]$") ~= nil
end

return M
