-- 0004_plugin_settings_grants.sql - what an administrator sets for plugins and their users:
-- plugin settings edited on /admin/plugins/<id>/settings (core/plugin_settings.h), grants
-- (plugin-defined permissions such as "outreach.health", core/grants.h), and the flag that
-- makes a one-time password (accounts made by plugins for volunteers) usable only to set a
-- new one.

-- One row per changed setting; a setting without a row has its manifest default. version
-- grows with every write, so a worker sees a change by comparing SUM(version) per plugin
-- (one cheap indexed query at most once a second) before re-reading the values.
CREATE TABLE IF NOT EXISTS plugin_settings (
  plugin_id VARCHAR(32) NOT NULL,
  name VARCHAR(32) NOT NULL,
  value_json VARCHAR(4000) NOT NULL COMMENT 'the value as JSON: an integer, a string or true/false',
  version INT UNSIGNED NOT NULL DEFAULT 1,
  updated_by INT UNSIGNED NULL COMMENT 'NULL: the command line',
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (plugin_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Grants: "<plugin>.<grant>" names declared in a plugin's manifest, given to users by an
-- administrator. A route with grant = "x" needs the user's role and this row.
CREATE TABLE IF NOT EXISTS user_grants (
  user_id INT UNSIGNED NOT NULL,
  grant_name VARCHAR(65) NOT NULL COMMENT '<plugin id>.<grant name>',
  granted_by INT UNSIGNED NULL COMMENT 'NULL: the command line',
  granted_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (user_id, grant_name),
  KEY user_grants_name (grant_name),
  CONSTRAINT user_grants_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Set for an account whose password was handed out (a one-time password): until the user
-- sets their own, every signed-in page but the account page sends them there.
ALTER TABLE users ADD COLUMN IF NOT EXISTS must_change_password TINYINT(1) NOT NULL DEFAULT 0;
