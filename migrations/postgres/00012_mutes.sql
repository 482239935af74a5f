-- Muted conversations: a row per user and conversation they muted (a conversation is its pair of
-- users, so one can be muted before its first message). A muted conversation does not notify or
-- sound in that user's browsers; its messages still count as unread.

-- +goose Up
CREATE TABLE conversation_mutes (
    user_id    BIGINT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    partner_id BIGINT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    muted_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, partner_id)
);

-- +goose Down
DROP TABLE conversation_mutes;
