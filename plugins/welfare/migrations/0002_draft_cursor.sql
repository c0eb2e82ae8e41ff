-- Drawing up a list of thousands of households takes several requests (one request's CPU
-- budget covers about a thousand inserts): the last household id drawn so far, NULL when
-- no drawing is under way.
ALTER TABLE {campaigns} ADD COLUMN draft_cursor INT UNSIGNED NULL;
