-- 0001_accounts.sql - staff accounts, roles, sessions, API tokens, rate limits, audit log.
-- Residents never have accounts; these tables are for staff, grid workers, volunteers and admins.
-- Secrets are never stored: passwords as argon2id strings, session and API tokens as the
-- SHA-256 of their 32 random bytes (a copy of these tables lets nobody log in).
--
-- Run by `portald migrate` as migrate_user (CREATE, ALTER, INDEX, DROP, REFERENCES, TRIGGER).
-- The running portal's db_user needs only SELECT, INSERT, UPDATE, DELETE: with those rights the
-- two triggers at the end make audit_log append-only for it (no TRIGGER right to drop them, no
-- DROP right to TRUNCATE the table). With binary logging on, creating a trigger also needs
-- SUPER or log_bin_trust_function_creators = 1 for the migrating user.

CREATE TABLE IF NOT EXISTS users (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  username VARCHAR(32) NOT NULL COMMENT 'login name: a-z 0-9 . _ -, stored in lower case',
  display_name VARCHAR(50) NOT NULL,
  password_hash VARCHAR(255) NOT NULL COMMENT 'argon2id string from crypto_pwhash_str',
  grid VARCHAR(64) NULL COMMENT 'grid (网格) a grid worker serves; scope rules use it',
  disabled TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  password_changed_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  last_login_at DATETIME NULL,
  UNIQUE KEY users_username (username),
  KEY users_grid (grid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Several roles per user: admin, staff, grid, volunteer, approver (core/auth.h).
CREATE TABLE IF NOT EXISTS user_roles (
  user_id INT UNSIGNED NOT NULL,
  role VARCHAR(32) NOT NULL,
  granted_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (user_id, role),
  CONSTRAINT user_roles_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Browser sessions. Idle expiry is last_seen_at + session_idle_minutes (last_seen_at is
-- refreshed at most once a minute); expires_at is the absolute end (session_max_hours).
CREATE TABLE IF NOT EXISTS sessions (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  token_hash BINARY(32) NOT NULL COMMENT 'SHA-256 of the 32 random bytes of the cookie value',
  user_id INT UNSIGNED NOT NULL,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  last_seen_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  expires_at DATETIME NOT NULL,
  ip VARCHAR(45) NOT NULL DEFAULT '',
  user_agent VARCHAR(255) NOT NULL DEFAULT '',
  UNIQUE KEY sessions_token (token_hash),
  KEY sessions_user (user_id),
  KEY sessions_expires (expires_at),
  CONSTRAINT sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Bearer tokens for programs ("pt_" + base64url of 32 random bytes).
CREATE TABLE IF NOT EXISTS api_tokens (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  token_hash BINARY(32) NOT NULL COMMENT 'SHA-256 of the 32 random bytes after "pt_"',
  user_id INT UNSIGNED NOT NULL,
  name VARCHAR(100) NOT NULL DEFAULT '',
  role VARCHAR(32) NULL COMMENT 'narrows the token to one of its user''s roles; NULL = all of them',
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  expires_at DATETIME NULL,
  revoked_at DATETIME NULL,
  last_used_at DATETIME NULL,
  UNIQUE KEY api_tokens_hash (token_hash),
  KEY api_tokens_user (user_id),
  CONSTRAINT api_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Sliding-window counters shared by every worker and machine (login, later registration and
-- lookup): one row per bucket and time slot, see core/ratelimit.h.
CREATE TABLE IF NOT EXISTS rate_limits (
  bucket VARCHAR(190) NOT NULL,
  window_start DATETIME NOT NULL,
  hits INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, window_start),
  KEY rate_limits_window (window_start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Who did what, when, from where, to which record. No foreign keys on purpose: an entry
-- outlives the user or token it names.
CREATE TABLE IF NOT EXISTS audit_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  user_id INT UNSIGNED NULL COMMENT 'who; NULL for anonymous (a failed login) or the command line',
  token_id INT UNSIGNED NULL COMMENT 'the API token used, if any',
  actor VARCHAR(100) NOT NULL DEFAULT '' COMMENT 'username at the time, or "cli"',
  ip VARCHAR(45) NOT NULL DEFAULT '',
  action VARCHAR(64) NOT NULL COMMENT 'e.g. login.ok, login.failed, user.create, role.grant, audit.export',
  object_type VARCHAR(64) NOT NULL DEFAULT '',
  object_id VARCHAR(64) NOT NULL DEFAULT '',
  detail TEXT NOT NULL COMMENT 'JSON object; never a password or token',
  KEY audit_at (at),
  KEY audit_user (user_id, at),
  KEY audit_actor (actor, at),
  KEY audit_action (action, at),
  KEY audit_object (object_type, object_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The audit log is append-only: the database itself refuses changes to past entries.
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log is append-only';
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log is append-only';
