-- +goose Up
-- name_key: the first and last name folded as usernames are (models.NameKey), what people search
-- compares; SQLite cannot fold Unicode case itself. Existing rows are filled in by the application at
-- start (an empty key is one not computed yet).
ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT '';

-- Message search: an FTS5 index over message bodies, its content read from messages (external
-- content), kept in step by triggers: a new message is indexed, an edited body re-indexed, a deleted
-- row or cleared body leaves the index. unicode61 with diacritics removed: "cafe" finds "café".
CREATE VIRTUAL TABLE messages_fts USING fts5(
    message_body,
    content = 'messages',
    content_rowid = 'message_id',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- +goose StatementBegin
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, message_body) VALUES (new.message_id, new.message_body);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, message_body) VALUES ('delete', old.message_id, old.message_body);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER messages_fts_update AFTER UPDATE OF message_body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, message_body) VALUES ('delete', old.message_id, old.message_body);
    INSERT INTO messages_fts (rowid, message_body) VALUES (new.message_id, new.message_body);
END;
-- +goose StatementEnd

-- The messages written before this migration.
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

-- +goose Down
DROP TRIGGER messages_fts_update;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_insert;
DROP TABLE messages_fts;
ALTER TABLE users DROP COLUMN name_key;
