-- 0009_login_devices.sql - browsers an account signed in on (docs/accounts.md "Wrong
-- passwords"). Signing in gives the browser a random cookie (portal_device); only its SHA-256
-- is kept here. A browser known to an account is held only by its own wrong passwords, so a
-- stranger guessing from elsewhere cannot lock the desk out. Rows unused for
-- login_device_days are deleted at the user's next login; a password change deletes them all.
CREATE TABLE IF NOT EXISTS login_devices (
  user_id INT UNSIGNED NOT NULL,
  device_hash BINARY(32) NOT NULL COMMENT 'SHA-256 of the 32 random bytes of the portal_device cookie',
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  last_login_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'last successful login on this browser',
  PRIMARY KEY (user_id, device_hash),
  CONSTRAINT login_devices_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
