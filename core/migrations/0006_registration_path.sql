-- 0006: a shorter registration path.
--
-- events.rev: bumped by every staff change of an event or its slots (edit, publish, close,
-- cancel). Workers keep what a registration needs to know of a published event (kind, slots,
-- title for the confirmation) for a moment, and the seat-taking UPDATE carries the rev it
-- was read at: a changed event fails that UPDATE and is read again, so nothing is ever
-- decided on stale data (core/evcache.c).
ALTER TABLE events ADD COLUMN IF NOT EXISTS
  rev INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'bumped by every staff change of the event or its slots';

-- One registration per phone per event, among the registrations that still stand: a
-- cancelled one keeps its row (and its code still looks up as cancelled) and no longer holds
-- the phone, so registering again is one INSERT with no clean-up first.
ALTER TABLE registrations
  ADD COLUMN IF NOT EXISTS active_phone VARCHAR(20) AS (IF(status = 'cancelled', NULL, phone)) PERSISTENT
    COMMENT 'phone while the registration stands; NULL once cancelled',
  DROP INDEX IF EXISTS registrations_phone,
  ADD UNIQUE KEY registrations_phone (event_id, active_phone);
