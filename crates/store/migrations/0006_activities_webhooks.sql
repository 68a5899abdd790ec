-- Audit log and outgoing webhooks (issue 5). Append-only.

-- Who did what, when, from where. Names are copied beside the ids so that a
-- row still reads after its user, team or namespace is gone (the ids then
-- become NULL). Pulls are aggregated: one row per (actor, repository, UTC
-- day) with a count and the last time, so a busy repository does not flood
-- the log.
CREATE TABLE activities (
    id             BIGSERIAL PRIMARY KEY,
    action         TEXT NOT NULL,
    actor_id       BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_name     TEXT,
    addr           TEXT,
    namespace_id   BIGINT REFERENCES namespaces (id) ON DELETE SET NULL,
    namespace_name TEXT,
    repository     TEXT,
    tag            TEXT,
    digest         TEXT,
    team_id        BIGINT REFERENCES teams (id) ON DELETE SET NULL,
    team_name      TEXT,
    target         TEXT,
    detail         JSONB NOT NULL DEFAULT '{}',
    count          BIGINT NOT NULL DEFAULT 1,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    pull_day       DATE
);

CREATE INDEX activities_last_at ON activities (last_at DESC, id DESC);
CREATE INDEX activities_namespace ON activities (namespace_id);
CREATE INDEX activities_actor ON activities (actor_id);
CREATE UNIQUE INDEX activities_pull_per_day
    ON activities (COALESCE(actor_name, ''), repository, pull_day)
    WHERE action = 'repository.pull';

-- Outgoing webhooks of a namespace. The signing secret and the basic-auth
-- password are sealed (ChaCha20-Poly1305, key in <data-dir>/secrets/webhook-key):
-- berth must recover them to sign and authenticate, so a hash would not do.
CREATE TABLE webhooks (
    id              BIGSERIAL PRIMARY KEY,
    namespace_id    BIGINT NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    url             TEXT NOT NULL,
    request_method  TEXT NOT NULL DEFAULT 'POST' CHECK (request_method IN ('POST', 'PUT')),
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    username        TEXT,
    password_sealed BYTEA,
    secret_sealed   BYTEA NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX webhooks_namespace ON webhooks (namespace_id);

-- The outbox: one row per (event, webhook), written in the transaction that
-- applies the event; the worker sends it later. `body` is the exact JSON
-- signed and sent, so a resend is byte-identical.
CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    webhook_id      BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    delivery_id     TEXT NOT NULL UNIQUE,
    event           TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id DESC);

-- Every attempt: when, what came back (status or error), how long it took.
CREATE TABLE webhook_attempts (
    id           BIGSERIAL PRIMARY KEY,
    delivery_id  BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    status_code  INTEGER,
    error        TEXT,
    duration_ms  BIGINT NOT NULL
);

CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
