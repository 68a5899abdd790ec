-- Web UI sessions (issue 8): a signed-in registry user's browser. The
-- session id is 256 random bits; only its SHA-256 is stored, so a reader of
-- the database cannot act as anyone. Idle sessions expire; logout deletes
-- the row. Append-only.

CREATE TABLE web_sessions (
    id_hash    BYTEA PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- The repository page groups a repository's tags by digest, a page at a time.
CREATE INDEX tags_repository_digest ON tags (repository_id, digest);

-- Stars and comments on repositories, as Portus had.
CREATE TABLE repository_stars (
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, user_id)
);

CREATE TABLE repository_comments (
    id            BIGSERIAL PRIMARY KEY,
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body          TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX repository_comments_repository ON repository_comments (repository_id, id);
