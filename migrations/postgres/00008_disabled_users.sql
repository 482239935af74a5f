-- +goose Up
-- When an administrator disabled the account (messenger user disable); NULL while it is enabled. A
-- disabled user cannot sign in and is not offered to others as someone to start a chat with.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE users DROP COLUMN disabled_at;
