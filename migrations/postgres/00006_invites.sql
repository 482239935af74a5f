-- Invitations for REGISTRATION=invite, made by `messenger invite`. A token is stored only as its
-- SHA-256 (hex), so a copy of the database cannot be used to register; used_at marks it spent (single
-- use), set in the transaction that creates the user.

-- +goose Up
CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    used_by    BIGINT REFERENCES users (user_id) ON DELETE SET NULL
);

-- +goose Down
DROP TABLE invites;
