-- Holiday welfare distribution: households, campaigns with their stock, the recipient list,
-- receipts (one per household per campaign), the trail of changes, and staged CSV imports.

CREATE TABLE IF NOT EXISTS {households} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  head_name VARCHAR(40) NOT NULL,
  members INT UNSIGNED NOT NULL,
  address VARCHAR(120) NOT NULL,
  building VARCHAR(40) NOT NULL DEFAULT '',
  grid VARCHAR(40) NOT NULL DEFAULT '',
  phone VARCHAR(20) NOT NULL DEFAULT '',
  categories VARCHAR(100) NOT NULL,
  note VARCHAR(400) NOT NULL DEFAULT '',
  created_by VARCHAR(64) NOT NULL,
  created_at DATETIME NOT NULL,
  -- one household = one head at one address: what the import calls a duplicate
  UNIQUE KEY households_head_address (head_name, address),
  KEY households_phone (phone),
  KEY households_grid (grid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS {campaigns} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(60) NOT NULL,
  starts_on DATE NOT NULL,
  ends_on DATE NOT NULL,
  notice_from DATE NULL,
  notice_to DATE NULL,
  categories VARCHAR(100) NOT NULL,
  rules_text TEXT NOT NULL,
  rules_json TEXT NOT NULL,
  status VARCHAR(16) NOT NULL,
  created_by VARCHAR(64) NOT NULL,
  created_at DATETIME NOT NULL,
  drafted_by VARCHAR(64) NULL,
  drafted_at DATETIME NULL,
  approved_by VARCHAR(64) NULL,
  approved_at DATETIME NULL,
  closed_by VARCHAR(64) NULL,
  closed_at DATETIME NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Stock per item: remaining = received - handed_out - set_aside, never stored, never negative.
CREATE TABLE IF NOT EXISTS {items} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  campaign_id INT UNSIGNED NOT NULL,
  code VARCHAR(16) NOT NULL,
  name VARCHAR(40) NOT NULL,
  unit VARCHAR(10) NOT NULL DEFAULT '',
  received INT UNSIGNED NOT NULL,
  handed_out INT UNSIGNED NOT NULL DEFAULT 0,
  set_aside INT UNSIGNED NOT NULL DEFAULT 0,
  UNIQUE KEY items_campaign_code (campaign_id, code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS {recipients} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  campaign_id INT UNSIGNED NOT NULL,
  household_id INT UNSIGNED NOT NULL,
  alloc_json VARCHAR(400) NOT NULL,
  -- listed, received, removed, released (undelivered at close)
  status VARCHAR(12) NOT NULL,
  updated_at DATETIME NOT NULL,
  UNIQUE KEY recipients_campaign_household (campaign_id, household_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS {receipts} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  campaign_id INT UNSIGNED NOT NULL,
  household_id INT UNSIGNED NOT NULL,
  -- self, proxy (代领) or delivery (送上门)
  mode VARCHAR(10) NOT NULL,
  proxy_name VARCHAR(40) NULL,
  proxy_id_tail CHAR(4) NULL,
  -- screen (signature captured on screen) or paper (marked on the printed sheet)
  sign_mode VARCHAR(10) NOT NULL,
  signature MEDIUMTEXT NULL,
  alloc_json VARCHAR(400) NOT NULL,
  recorded_by VARCHAR(64) NOT NULL,
  recorded_name VARCHAR(64) NOT NULL,
  received_at DATETIME NOT NULL,
  -- the rule "one receipt per household per campaign", kept by the database
  UNIQUE KEY receipts_campaign_household (campaign_id, household_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every change to a list (and its approval and closing), with the reason asked after approval.
CREATE TABLE IF NOT EXISTS {changes} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  campaign_id INT UNSIGNED NOT NULL,
  household_id INT UNSIGNED NULL,
  action VARCHAR(20) NOT NULL,
  reason VARCHAR(200) NOT NULL DEFAULT '',
  detail_json VARCHAR(1000) NOT NULL DEFAULT '{}',
  by_user VARCHAR(64) NOT NULL,
  done_at DATETIME NOT NULL,
  KEY changes_campaign (campaign_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A checked CSV import waiting for the staff member to confirm it.
CREATE TABLE IF NOT EXISTS {imports} (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  rows_json MEDIUMTEXT NOT NULL,
  row_count INT UNSIGNED NOT NULL,
  status VARCHAR(10) NOT NULL,
  created_by VARCHAR(64) NOT NULL,
  created_at DATETIME NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
