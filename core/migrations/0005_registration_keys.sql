-- 0005_registration_keys.sql - plugins' uniqueness rules for registrations (hook
-- registration.keys): the SHA-256 of each key a plugin returns, unique per plugin, written in
-- the registering transaction; a taken key refuses the registration. A key is freed when its
-- registration (or its event) is cancelled or anonymised (deleted by the core), or deleted with it.

CREATE TABLE IF NOT EXISTS registration_keys (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  plugin_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  key_hash BINARY(32) NOT NULL COMMENT 'SHA-256 of the key the plugin returned',
  registration_id BIGINT UNSIGNED NOT NULL,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY registration_keys_key (plugin_id, key_hash),
  KEY registration_keys_registration (registration_id),
  CONSTRAINT registration_keys_registration_fk FOREIGN KEY (registration_id) REFERENCES registrations (id)
    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
