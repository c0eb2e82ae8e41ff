-- 0001_readings_followups.sql - what the screening days record beyond the core's registrations.
-- Rows are tied to a person only by the registration code (reg_code); the daily job sets it
-- and the free text to NULL once the event is past retention, and stamps anonymised_at.
-- event_ends_at is copied from the event so that the job needs no core data.

-- One row per measurement at the table (a resident may be measured again after a rest).
CREATE TABLE IF NOT EXISTS {readings} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id INT UNSIGNED NOT NULL,
  event_ends_at DATETIME NOT NULL,
  reg_code CHAR(6) NULL,
  systolic SMALLINT UNSIGNED NULL,
  diastolic SMALLINT UNSIGNED NULL,
  glucose_tenths SMALLINT UNSIGNED NULL,       -- mmol/L times ten: 61 is 6.1
  glucose_kind VARCHAR(8) NULL,                -- fasting or random
  abnormal TINYINT(1) NOT NULL DEFAULT 0,
  referral_note VARCHAR(600) NULL,
  recorded_by VARCHAR(64) NOT NULL,
  recorded_at DATETIME NOT NULL,
  anonymised_at DATETIME NULL,
  KEY readings_event (event_id),
  KEY readings_code (reg_code),
  KEY readings_ends (event_ends_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One follow-up item per resident and event with an abnormal reading.
CREATE TABLE IF NOT EXISTS {followups} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id INT UNSIGNED NOT NULL,
  event_ends_at DATETIME NOT NULL,
  reg_code CHAR(6) NULL,
  reading_id INT UNSIGNED NOT NULL,
  reason VARCHAR(300) NULL,
  status VARCHAR(8) NOT NULL DEFAULT 'open',   -- open or done
  created_at DATETIME NOT NULL,
  done_by VARCHAR(64) NULL,
  done_at DATETIME NULL,
  anonymised_at DATETIME NULL,
  UNIQUE KEY followups_event_code (event_id, reg_code),
  KEY followups_ends (event_ends_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
