-- +goose Up
CREATE TABLE users (
    user_id       BIGSERIAL PRIMARY KEY,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    gender        SMALLINT NOT NULL DEFAULT 0 CHECK (gender BETWEEN 0 AND 3),
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,
    password      TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at  TIMESTAMPTZ,
    active_until  TIMESTAMPTZ
);

CREATE TABLE conversations (
    conversation_id BIGSERIAL PRIMARY KEY,
    user_low_id     BIGINT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    user_high_id    BIGINT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    last_seq        BIGINT NOT NULL DEFAULT 0,
    last_message_id BIGINT,
    last_message_at TIMESTAMPTZ,
    UNIQUE (user_low_id, user_high_id),
    CHECK (user_low_id < user_high_id)
);
CREATE INDEX conversations_user_high ON conversations (user_high_id);

CREATE TABLE messages (
    message_id        BIGSERIAL PRIMARY KEY,
    conversation_id   BIGINT NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    seq               BIGINT NOT NULL,
    message_date      TIMESTAMPTZ NOT NULL DEFAULT now(),
    message_body      TEXT NOT NULL,
    sender_user_id    BIGINT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    recipient_user_id BIGINT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    unread            BOOLEAN NOT NULL DEFAULT TRUE,
    client_id         TEXT,
    UNIQUE (conversation_id, seq),
    UNIQUE (sender_user_id, client_id)
);
CREATE INDEX messages_unread ON messages (recipient_user_id, sender_user_id) WHERE unread;

CREATE TABLE sessions (
    session_id     TEXT PRIMARY KEY,
    user_id        BIGINT REFERENCES users (user_id) ON DELETE CASCADE,
    csrf_token     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    last_active_at TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

-- One row per running instance, refreshed by a heartbeat; presence rows of an instance whose heartbeat
-- stopped (killed) no longer count.
CREATE TABLE instances (
    instance_id  TEXT PRIMARY KEY,
    heartbeat_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE presence (
    instance_id TEXT NOT NULL REFERENCES instances (instance_id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    sockets     INTEGER NOT NULL,
    PRIMARY KEY (instance_id, user_id)
);
CREATE INDEX presence_user ON presence (user_id);

-- +goose Down
DROP TABLE presence;
DROP TABLE instances;
DROP TABLE sessions;
DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE users;
