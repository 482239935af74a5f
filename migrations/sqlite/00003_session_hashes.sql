-- Sessions are stored under the SHA-256 of their id (hex): the cookie keeps the signed id, so a copy
-- of the database, a log line or an event names a session without being able to use it. Only signed-in
-- sessions have a row now (an anonymous visitor's CSRF token lives in a signed cookie), so user_id is
-- required. Existing rows are deleted rather than hashed in place (SQLite has no SHA-256 function):
-- everyone signs in once after the upgrade.

-- +goose Up
DROP TABLE sessions;
CREATE TABLE sessions (
    id_hash        TEXT PRIMARY KEY,
    user_id        BIGINT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    csrf_token     TEXT NOT NULL,
    created_at     DATETIME NOT NULL,
    last_active_at DATETIME NOT NULL,
    expires_at     DATETIME NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

-- +goose Down
DROP TABLE sessions;
CREATE TABLE sessions (
    session_id     TEXT PRIMARY KEY,
    user_id        BIGINT REFERENCES users (user_id) ON DELETE CASCADE,
    csrf_token     TEXT NOT NULL,
    created_at     DATETIME NOT NULL,
    last_active_at DATETIME NOT NULL,
    expires_at     DATETIME NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);
