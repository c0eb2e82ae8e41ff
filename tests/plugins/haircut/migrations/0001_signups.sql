-- 0001_signups.sql - one row per elderly resident signed up for a haircut day.
-- {signups} becomes the real table p_haircut_signups.
CREATE TABLE IF NOT EXISTS {signups} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  day DATE NOT NULL,
  name VARCHAR(20) NOT NULL,
  phone CHAR(11) NOT NULL,
  age_band VARCHAR(16) NOT NULL,
  home_visit TINYINT(1) NOT NULL DEFAULT 0,
  address VARCHAR(60) NULL,
  created_at DATETIME NOT NULL,
  UNIQUE KEY signups_day_phone (day, phone)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
