-- Staff can switch a volunteer off (status 'inactive': no sign-ups, no shifts offered, no
-- texts, login disabled) and on again; when, and by whom. After the retention period the
-- daily job anonymises an inactive profile (anonymised_at set: it cannot be switched on again).
ALTER TABLE {volunteers} ADD COLUMN inactive_since DATETIME NULL, ADD COLUMN inactive_by VARCHAR(64) NULL,
  ADD COLUMN anonymised_at DATETIME NULL;
-- the visits whose residents' data the daily job removed after the retention period
ALTER TABLE {shifts} ADD COLUMN purged_at DATETIME NULL;
