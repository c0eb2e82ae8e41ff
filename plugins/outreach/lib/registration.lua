-- lib/registration.lua - what this plugin adds to the core's registration of its own
-- kinds: the cross-field check of the "prepreg" form and the two registration hooks. The
-- rules themselves are plain functions in lib/rules.lua; this module hands them the
-- registration and the settings.
local rules = require("lib.rules")

local M = {}

local ID_TAIL = "请填身份证号的最后四位：数字，最后一位也可以是X。"

-- The "prepreg" form's validate(values): both ID tails look like the end of an ID number.
function M.validate_prepreg(v)
  local errors = {}
  if not rules.is_id_tail(v.id_tail) then errors.id_tail = ID_TAIL end
  if not rules.is_id_tail(v.spouse_id_tail) then errors.spouse_id_tail = ID_TAIL end
  if next(errors) then return errors end
end

-- registration.validate: eligibility of a pre-pregnancy registration, explained in plain
-- words when not met.
function M.eligible(p)
  if p.kind == rules.PREPREG then
    return rules.eligibility(p.answers, portal.config.min_residence_months)
  end
end

-- registration.keys: one free check per couple per year. The core stores the key's hash
-- under a unique index in the same transaction as the registration, so two racing requests
-- cannot both pass. Cancelling frees the key.
function M.couple_keys(p)
  if p.kind ~= rules.PREPREG then
    return nil
  end
  local ev = portal.events.get(p.event_id)
  if not ev then
    error("outreach: event " .. tostring(p.event_id) .. " not found")   -- fail closed
  end
  return { { key = rules.couple_key(ev.starts_at:sub(1, 4), p.name, p.answers),
             message = "这对夫妻今年已经报过名了：免费孕前检查每对夫妻每年一次。要换时间，请先取消原来的报名。" } }
end

return M
