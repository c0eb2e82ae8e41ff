-- 0003_events.sql - events, their time slots, registrations (with waitlist), and the outbox's
-- links to them. The rules live here (core/events.h): one registration per phone per event
-- (UNIQUE), seats taken by a conditional UPDATE of events.taken / event_slots.taken inside the
-- registering transaction, distinct waitlist positions (UNIQUE), unique short codes.
-- Times are DATETIME in China time (the session time zone is +08:00).

CREATE TABLE IF NOT EXISTS events (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind VARCHAR(32) NOT NULL DEFAULT 'general' COMMENT 'general, or a plugin kind id',
  title VARCHAR(400) NOT NULL,
  description TEXT NOT NULL,
  location VARCHAR(800) NOT NULL,
  starts_at DATETIME NOT NULL,
  ends_at DATETIME NOT NULL,
  registration_opens_at DATETIME NULL,
  registration_closes_at DATETIME NULL,
  capacity INT UNSIGNED NOT NULL,
  taken INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'confirmed registrations; never above capacity',
  waitlist TINYINT(1) NOT NULL DEFAULT 1,
  waitlist_next INT UNSIGNED NOT NULL DEFAULT 1 COMMENT 'next waitlist position to hand out',
  status VARCHAR(16) NOT NULL DEFAULT 'draft' COMMENT 'draft, published, closed, cancelled',
  retention_days INT UNSIGNED NOT NULL DEFAULT 180,
  anonymised_at DATETIME NULL,
  created_by INT UNSIGNED NULL,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  KEY events_list (status, starts_at),
  KEY events_kind (kind, starts_at),
  CONSTRAINT events_taken CHECK (taken <= capacity),
  CONSTRAINT events_times CHECK (ends_at >= starts_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS event_slots (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id INT UNSIGNED NOT NULL,
  starts_at DATETIME NOT NULL,
  ends_at DATETIME NOT NULL,
  capacity INT UNSIGNED NOT NULL,
  taken INT UNSIGNED NOT NULL DEFAULT 0,
  KEY event_slots_event (event_id, starts_at),
  CONSTRAINT event_slots_event_fk FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE,
  CONSTRAINT event_slots_taken CHECK (taken <= capacity)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS registrations (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id INT UNSIGNED NOT NULL,
  slot_id INT UNSIGNED NULL,
  code CHAR(6) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  name VARCHAR(200) NOT NULL,
  phone VARCHAR(20) NOT NULL COMMENT '11 digits; after anonymisation anon-<id>',
  status VARCHAR(16) NOT NULL COMMENT 'confirmed, waitlisted, cancelled, no_show',
  waitlist_position INT UNSIGNED NULL COMMENT 'set while waitlisted, NULL otherwise',
  answers JSON NULL,
  consent TINYINT(1) NOT NULL DEFAULT 0,
  on_behalf_of VARCHAR(80) NULL COMMENT 'relation typed by a family member registering someone',
  registered_by INT UNSIGNED NULL COMMENT 'staff user who registered a walk-in or caller',
  checked_in_at DATETIME NULL,
  checked_in_by INT UNSIGNED NULL,
  cancelled_at DATETIME NULL,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  UNIQUE KEY registrations_code (code),
  UNIQUE KEY registrations_phone (event_id, phone),
  UNIQUE KEY registrations_waitlist (event_id, waitlist_position),
  KEY registrations_status (event_id, status, waitlist_position),
  CONSTRAINT registrations_event_fk FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE outbox ADD COLUMN IF NOT EXISTS event_id INT UNSIGNED NULL;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS registration_id BIGINT UNSIGNED NULL;
ALTER TABLE outbox ADD INDEX IF NOT EXISTS outbox_registration (registration_id, kind);
