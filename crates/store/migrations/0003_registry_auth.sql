-- Registry authorization (issue 4): users, credentials, teams, namespaces,
-- and the repositories and tags the registry holds. Append-only.

-- Accounts. Passwords are argon2id PHC strings; a bot never logs in to the
-- web UI and has no personal namespace. The internal service user (`service`)
-- is berth itself talking to its registry; its password lives in the data dir.
CREATE TABLE users (
    id                BIGSERIAL PRIMARY KEY,
    username          TEXT NOT NULL UNIQUE,
    email             TEXT UNIQUE,
    display_name      TEXT,
    password_hash     TEXT NOT NULL,
    admin             BOOLEAN NOT NULL DEFAULT FALSE,
    enabled           BOOLEAN NOT NULL DEFAULT TRUE,
    bot               BOOLEAN NOT NULL DEFAULT FALSE,
    service           BOOLEAN NOT NULL DEFAULT FALSE,
    failed_attempts   INTEGER NOT NULL DEFAULT 0,
    locked_at         TIMESTAMPTZ,
    current_sign_in_at TIMESTAMPTZ,
    last_sign_in_at   TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- At most one service user.
CREATE UNIQUE INDEX users_one_service ON users (service) WHERE service;

-- Application tokens: SHA-256 of a 256-bit random secret, so lookup is one
-- index probe and a stolen table gives nothing. At most 5 per user (checked
-- in the insert).
CREATE TABLE application_tokens (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    application TEXT NOT NULL,
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, application)
);

-- Refresh tokens (docker's identity tokens): random, hashed, bound to the
-- user and the OAuth client id they were issued to.
CREATE TABLE refresh_tokens (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL,
    token_hash   BYTEA NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Teams own namespaces. A personal team is hidden and has exactly its user
-- as owner.
CREATE TABLE teams (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    hidden      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE team_members (
    id         BIGSERIAL PRIMARY KEY,
    team_id    BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'contributor', 'viewer')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, user_id)
);

CREATE INDEX team_members_user ON team_members (user_id);

-- Namespaces. The global namespace (names without `/`) is the one row with
-- `global`; its name is NULL because no repository spells it.
CREATE TABLE namespaces (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT UNIQUE,
    team_id     BIGINT NOT NULL REFERENCES teams (id),
    kind        TEXT NOT NULL CHECK (kind IN ('global', 'personal', 'team')),
    visibility  TEXT NOT NULL DEFAULT 'private'
                CHECK (visibility IN ('private', 'protected', 'public')),
    description TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((kind = 'global') = (name IS NULL))
);

CREATE UNIQUE INDEX namespaces_one_global ON namespaces (kind) WHERE kind = 'global';
CREATE INDEX namespaces_team ON namespaces (team_id);

-- The registry berth fronts (Portus keeps exactly one).
CREATE TABLE registries (
    id                BIGSERIAL PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    hostname          TEXT NOT NULL,
    external_hostname TEXT,
    use_ssl           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Filled by the sync from registry notifications (issue 5); the API reads them.
CREATE TABLE repositories (
    id           BIGSERIAL PRIMARY KEY,
    namespace_id BIGINT NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (namespace_id, name)
);

CREATE TABLE tags (
    id            BIGSERIAL PRIMARY KEY,
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    digest        TEXT NOT NULL,
    image_id      TEXT,
    size          BIGINT,
    author_id     BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (repository_id, name)
);

-- The hidden team that owns the global namespace, and that namespace. Team
-- names users choose cannot hold `:`, so this one never collides.
INSERT INTO teams (name, hidden, description) VALUES ('berth:global', TRUE, 'owner of the global namespace');
INSERT INTO namespaces (name, team_id, kind, visibility, description)
    SELECT NULL, id, 'global', 'private', 'names without a slash' FROM teams WHERE name = 'berth:global';
