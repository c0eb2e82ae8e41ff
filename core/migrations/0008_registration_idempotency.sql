-- 0008_registration_idempotency.sql - a registration remembers the submission that made it,
-- so a retry of a submission that was saved gets the original registration back (its code)
-- instead of a 409 or a second row (core/events.c, docs/api.md "Retries").
--
-- idempotency_key: the client's Idempotency-Key (API header; the event pages send one per
-- page load in a hidden field), or a random key of the server's own when the client sent
-- none, so that a transaction rerun after a COMMIT whose outcome was lost finds its own row.
-- UNIQUE per event and written by the registering INSERT itself: no extra statement.
-- idempotency_hash: SHA-256 of the key and the submission's content, so the same key with
-- other content is refused instead of being answered with someone else's code. It is made
-- from the name and phone number, so anonymising a registration clears both columns.
ALTER TABLE registrations
  ADD COLUMN IF NOT EXISTS idempotency_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL
    COMMENT 'client Idempotency-Key or a server-made one; NULL once anonymised',
  ADD COLUMN IF NOT EXISTS idempotency_hash BINARY(32) NULL
    COMMENT 'SHA-256 of key + submission (ev_fingerprint); NULL once anonymised',
  ADD UNIQUE KEY IF NOT EXISTS registrations_idempotency (event_id, idempotency_key);
