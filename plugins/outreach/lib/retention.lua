-- lib/retention.lua - the daily job: the plugin's own records of an event that ended more
-- than retention_days ago lose what ties them to a person (the registration code) and their
-- free text. The numbers stay, so the yearly summary still counts them. (The core anonymises
-- its registrations by the event's own retention_days.)
local M = {}

-- The cut-off: events that ended before this time are past retention.
function M.cutoff(now)
  return portal.time.date("%Y-%m-%d %H:%M:%S", (now or portal.time.now()) - portal.config.retention_days * 86400)
end

-- Anonymise everything past the cut-off; returns { readings = n, followups = n } changed.
function M.run()
  local db = portal.db
  local before = M.cutoff()
  local stamp = portal.time.date("%Y-%m-%d %H:%M:%S")
  local old = { event_ends_at = { "<", before }, anonymised_at = db.NULL }
  local n = db.transaction(function()
    return { readings = db.update("readings", old, { reg_code = db.NULL, referral_note = db.NULL, anonymised_at = stamp }),
             followups = db.update("followups", old, { reg_code = db.NULL, reason = db.NULL, anonymised_at = stamp }) }
  end)
  -- jobs have no request, so no audit entry: the log line is the record (counts only)
  portal.log.info("outreach records anonymised", { readings = n.readings, followups = n.followups, before = before })
  return n
end

return M
