-- The hostile plugin's own table: its legitimate queries run here, its
-- injection attempts are refused before any SQL is sent.
CREATE TABLE IF NOT EXISTS {notes} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  body VARCHAR(200) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
