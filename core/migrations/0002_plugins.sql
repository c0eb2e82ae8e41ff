-- 0002_plugins.sql - what the plugin host keeps in the database: which plugins an
-- administrator switched off, and the outbox of messages (reminders, notices) that
-- plugins and the core queue for a sender to deliver.

CREATE TABLE IF NOT EXISTS plugin_state (
  plugin_id VARCHAR(32) NOT NULL PRIMARY KEY,
  enabled TINYINT(1) NOT NULL DEFAULT 1,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  updated_by INT UNSIGNED NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS outbox (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  plugin_id VARCHAR(32) NULL COMMENT 'NULL when the core queued it',
  kind VARCHAR(32) NOT NULL COMMENT 'confirmation, reminder, promotion, cancellation, notice, ...',
  phone VARCHAR(20) NOT NULL,
  body TEXT NOT NULL,
  send_after DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  status VARCHAR(16) NOT NULL DEFAULT 'queued' COMMENT 'queued, sent, failed, cancelled',
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  sent_at DATETIME NULL,
  last_error VARCHAR(255) NULL,
  KEY outbox_due (status, send_after)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What went wrong with plugins, for the admin page: a reload refused because a plugin would
-- not load (the old set kept serving), a plugin that failed at start.
CREATE TABLE IF NOT EXISTS plugin_events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  plugin_id VARCHAR(32) NOT NULL DEFAULT '',
  kind VARCHAR(32) NOT NULL COMMENT 'reload_refused, load_error, disabled_memory',
  message TEXT NOT NULL,
  KEY plugin_events_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
