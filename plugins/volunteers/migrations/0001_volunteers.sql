-- Volunteer scheduling: people, care plans, shifts, who takes which shift, messages sent,
-- visit notes. Times are DATETIME in Beijing time; phones are the 11 digits.

-- A volunteer: applied on the public page (status pending) or made by staff; approval
-- creates a login (username kept here: the core never renames a user).
CREATE TABLE IF NOT EXISTS {volunteers} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(40) NOT NULL,
  phone CHAR(11) NOT NULL,
  skills VARCHAR(200) NOT NULL DEFAULT '',
  days VARCHAR(40) NOT NULL DEFAULT '',
  parts VARCHAR(40) NOT NULL DEFAULT '',
  availability_note VARCHAR(200) NOT NULL DEFAULT '',
  status VARCHAR(16) NOT NULL DEFAULT 'pending',
  user_id INT UNSIGNED NULL,
  username VARCHAR(64) NULL,
  created_at DATETIME NOT NULL,
  approved_at DATETIME NULL,
  approved_by VARCHAR(64) NULL,
  UNIQUE KEY volunteers_phone (phone),
  UNIQUE KEY volunteers_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A recurring care plan: e.g. every Tuesday 9:00-11:00 a visit to one elderly resident.
-- The resident's name, address and phone stay here and on the plan's shifts, for staff
-- and (name and address only) the volunteer who takes the visit.
CREATE TABLE IF NOT EXISTS {plans} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  title VARCHAR(60) NOT NULL,
  role VARCHAR(40) NOT NULL,
  skill VARCHAR(32) NOT NULL DEFAULT '',
  resident_name VARCHAR(40) NOT NULL,
  resident_address VARCHAR(100) NOT NULL,
  resident_phone CHAR(11) NULL,
  weekday TINYINT UNSIGNED NOT NULL,
  start_time CHAR(5) NOT NULL,
  end_time CHAR(5) NOT NULL,
  headcount SMALLINT UNSIGNED NOT NULL DEFAULT 1,
  active TINYINT(1) NOT NULL DEFAULT 1,
  created_at DATETIME NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A shift. kind 'place' (a place, maybe part of a core event) or 'visit' (a resident's
-- home). UNIQUE (plan_id, starts_at): generating a plan's shifts twice adds none
-- (plan_id is NULL for one-off shifts, and NULLs never collide).
CREATE TABLE IF NOT EXISTS {shifts} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind VARCHAR(8) NOT NULL DEFAULT 'place',
  role VARCHAR(40) NOT NULL,
  place VARCHAR(100) NOT NULL DEFAULT '',
  resident_name VARCHAR(40) NULL,
  resident_address VARCHAR(100) NULL,
  resident_phone CHAR(11) NULL,
  starts_at DATETIME NOT NULL,
  ends_at DATETIME NOT NULL,
  headcount SMALLINT UNSIGNED NOT NULL,
  skill VARCHAR(32) NOT NULL DEFAULT '',
  event_id INT UNSIGNED NULL,
  event_title VARCHAR(200) NULL,
  plan_id INT UNSIGNED NULL,
  note VARCHAR(200) NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL,
  created_by VARCHAR(64) NOT NULL DEFAULT '',
  UNIQUE KEY shifts_plan_start (plan_id, starts_at),
  KEY shifts_starts (starts_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Who takes which shift. Withdrawing deletes the row. After the shift staff set
-- attendance ('present' or 'no_show') and the minutes actually worked.
CREATE TABLE IF NOT EXISTS {assignments} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  shift_id INT UNSIGNED NOT NULL,
  volunteer_id INT UNSIGNED NOT NULL,
  by_staff TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL,
  attendance VARCHAR(8) NULL,
  minutes INT UNSIGNED NULL,
  confirmed_by VARCHAR(64) NULL,
  confirmed_at DATETIME NULL,
  UNIQUE KEY assignments_shift_volunteer (shift_id, volunteer_id),
  KEY assignments_volunteer (volunteer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Messages queued to the outbox, one per (shift, volunteer, kind): a reminder job run
-- twice, or a second click on "通知志愿者", sends nothing new.
CREATE TABLE IF NOT EXISTS {messages} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  shift_id INT UNSIGNED NOT NULL,
  volunteer_id INT UNSIGNED NOT NULL,
  kind VARCHAR(16) NOT NULL,
  created_at DATETIME NOT NULL,
  UNIQUE KEY messages_once (shift_id, volunteer_id, kind)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A home visit's note: what was done, and a concern for staff (open until handled).
CREATE TABLE IF NOT EXISTS {notes} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  shift_id INT UNSIGNED NOT NULL,
  volunteer_id INT UNSIGNED NOT NULL,
  done_text VARCHAR(1000) NOT NULL,
  concern VARCHAR(1000) NOT NULL DEFAULT '',
  concern_open TINYINT(1) NOT NULL DEFAULT 0,
  handled_by VARCHAR(64) NULL,
  handled_at DATETIME NULL,
  created_at DATETIME NOT NULL,
  UNIQUE KEY notes_shift_volunteer (shift_id, volunteer_id),
  KEY notes_open (concern_open)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
