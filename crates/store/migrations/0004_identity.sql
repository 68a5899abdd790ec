-- Identities, paired terminals, pairing codes and peers (issue 6).
-- Private keys never enter the database: they live in <data-dir>/secrets.

-- An identity is a key pair; its id is derived from the public key, so the
-- id cannot be chosen and a row cannot claim a key it does not hold.
CREATE TABLE identities (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    public_key  BYTEA NOT NULL,
    is_default  BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- At most one default identity, enforced by the database.
CREATE UNIQUE INDEX identities_one_default ON identities (is_default) WHERE is_default;

-- Paired devices. Deleting the row revokes the device's cookie.
CREATE TABLE terminals (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    icon            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_connection TIMESTAMPTZ
);

-- Pairing codes are consumed by a single conditional UPDATE, so that two
-- concurrent pairings with the same code cannot both succeed.
CREATE TABLE pairing_codes (
    code        TEXT PRIMARY KEY,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    valid_until TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);

-- Other berth instances, by the id derived from their public key.
CREATE TABLE peers (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    public_key BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Nonces of accepted peer signatures, kept until their signature's window
-- closes: a replay is refused even across a restart of berth.
CREATE TABLE peer_nonces (
    key_id       TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    forget_after TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (key_id, nonce)
);

CREATE INDEX peer_nonces_forget_after ON peer_nonces (forget_after);
