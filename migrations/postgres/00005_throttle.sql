-- Attempts that cost the server (failed sign-ins, registrations) counted per key in the database, so
-- every instance behind a load balancer shares one count and a restart forgets nothing. key_hash is
-- the hex SHA-256 of what is counted (kind, account, client address): fixed size whatever was typed.
-- A row counts from its first hit until reset_at; the session sweeper deletes rows past it.

-- +goose Up
CREATE TABLE throttle (
    key_hash TEXT PRIMARY KEY,
    hits     INTEGER NOT NULL,
    reset_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX throttle_reset ON throttle (reset_at);

-- +goose Down
DROP TABLE throttle;
