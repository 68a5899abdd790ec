-- Installed apps (issue 3). One row per app berth knows about; the row is
-- written before anything is created for the app and deleted after the last
-- thing is removed, so a berth killed at any moment can finish the job on
-- its next start (the install/uninstall state machine in `berth-apps`).
CREATE TABLE apps (
    name         TEXT PRIMARY KEY,
    -- The app.json as migrated to the current format (canonical stored form).
    manifest     JSONB NOT NULL,
    -- installing | installed | uninstalling
    phase        TEXT NOT NULL,
    -- With phase = uninstalling: also delete data dirs and the database.
    purge        BOOLEAN NOT NULL DEFAULT false,
    -- running | stopped: what the owner last asked for.
    desired      TEXT NOT NULL DEFAULT 'running',
    -- Why the last step failed, for `berth app status`; NULL when healthy.
    last_error   TEXT,
    installed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
