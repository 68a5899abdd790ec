-- Catalog sync (issue 5): what a tag points at, where it came from, and the
-- processing state of each stored registry event. Append-only.

ALTER TABLE tags
    ADD COLUMN media_type TEXT,
    ADD COLUMN platforms  TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN pushed_at  TIMESTAMPTZ,
    ADD COLUMN pulled_at  TIMESTAMPTZ,
    ADD COLUMN pull_count BIGINT NOT NULL DEFAULT 0;

-- `outcome` is `applied`, `ignored` or `orphan` (a namespace that does not
-- exist: kept for admins to see, never dropped silently).
ALTER TABLE registry_events
    ADD COLUMN outcome  TEXT,
    ADD COLUMN detail   TEXT,
    ADD COLUMN event_at TIMESTAMPTZ;

CREATE INDEX registry_events_orphans ON registry_events (received_at) WHERE outcome = 'orphan';
