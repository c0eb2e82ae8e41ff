-- 0007: what several app nodes on a Galera cluster share (docs/architecture.md, "On a
-- Galera cluster"). The table `leases` is made by `portald migrate` itself (core/lease.h),
-- since the migration lease guards the migrations.

-- One row per run of the scheduled jobs (`portald jobs run daily|hourly`), written under the
-- lease "jobs_<kind>": a run of a period (the Beijing date, or date and hour) that finished
-- makes later runs of that period skip, so a timer on every app machine runs the daily jobs
-- exactly once a day across the cluster. --force runs them again (recorded as forced).
CREATE TABLE IF NOT EXISTS job_runs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind VARCHAR(16) NOT NULL COMMENT 'daily or hourly',
  period VARCHAR(16) NOT NULL COMMENT 'YYYY-MM-DD (daily) or YYYY-MM-DD HH (hourly), Beijing time',
  holder VARCHAR(200) NOT NULL COMMENT 'machine:pid:random of the process that ran it',
  forced TINYINT(1) NOT NULL DEFAULT 0,
  started_at DATETIME(3) NOT NULL,
  finished_at DATETIME(3) NULL,
  result VARCHAR(16) NULL COMMENT 'ok, or failed when a job failed; NULL while running or if it died',
  KEY job_runs_period (kind, period)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Counters every node's master polls (conf reload_check_ms): "plugins" is bumped by a reload
-- asked for on any node (admin page, plugin enable/disable), and each master that sees it
-- change reloads its workers, as SIGHUP does on one machine.
CREATE TABLE IF NOT EXISTS generations (
  name VARCHAR(32) NOT NULL PRIMARY KEY,
  value BIGINT UNSIGNED NOT NULL DEFAULT 0,
  changed_at DATETIME(3) NOT NULL,
  changed_by VARCHAR(200) NOT NULL DEFAULT ''
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT IGNORE INTO generations (name, value, changed_at) VALUES ('plugins', 0, NOW(3));
