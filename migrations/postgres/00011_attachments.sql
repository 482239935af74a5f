-- Attachments (issue 9): one file per message at most. The bytes live on disk under the attachments
-- directory, named by their SHA-256 (several rows may share one file); a row holds what the page shows
-- and what serving needs. uploader_id counts each user's quota; sha256 finds the other rows of a file
-- before it is removed.

-- +goose Up
CREATE TABLE attachments (
    attachment_id BIGSERIAL PRIMARY KEY,
    message_id    BIGINT NOT NULL UNIQUE REFERENCES messages (message_id) ON DELETE CASCADE,
    uploader_id   BIGINT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    sha256        TEXT NOT NULL,
    name          TEXT NOT NULL,
    size          BIGINT NOT NULL CHECK (size > 0),
    content_type  TEXT NOT NULL,
    width         INTEGER NOT NULL DEFAULT 0,
    height        INTEGER NOT NULL DEFAULT 0,
    thumb_width   INTEGER NOT NULL DEFAULT 0,
    thumb_height  INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX attachments_uploader ON attachments (uploader_id);
CREATE INDEX attachments_sha256 ON attachments (sha256);

-- +goose Down
DROP TABLE attachments;
