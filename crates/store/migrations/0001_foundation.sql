-- berth's own metadata. Migrations are append-only: never edit a released file.

-- One row per instance fact (instance id, first start time). Keeps the data
-- dir and the database paired: a data dir pointed at another berth's database
-- is detected by comparing the instance id.
CREATE TABLE berth_meta (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Registry notifications are stored first and processed later, so that a
-- restart between receipt and processing loses nothing. The registry's own
-- event id makes redelivery idempotent.
CREATE TABLE registry_events (
    id           TEXT PRIMARY KEY,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    action       TEXT NOT NULL,
    repository   TEXT,
    payload      JSONB NOT NULL,
    processed_at TIMESTAMPTZ
);

CREATE INDEX registry_events_unprocessed ON registry_events (received_at) WHERE processed_at IS NULL;
