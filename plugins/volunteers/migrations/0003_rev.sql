-- A counter bumped by every sign-up and release of a shift (and of the volunteer signing up),
-- so those transactions write the rows they locked: on a Galera cluster only rows written by
-- two transactions at once make one of them fail certification; FOR UPDATE alone holds on one
-- node (lib/rules.lua, M.claim).
ALTER TABLE {shifts} ADD COLUMN IF NOT EXISTS rev INT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE {volunteers} ADD COLUMN IF NOT EXISTS rev INT UNSIGNED NOT NULL DEFAULT 0;
