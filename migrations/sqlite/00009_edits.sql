-- Edits, deletions and replies. A change to a message (an edit, a deletion) takes the next number of
-- its conversation's change sequence (conversations.last_change, taken under the conversation's row
-- lock like last_seq, so a later number always committed later) and the message keeps it in
-- change_seq: a page that has seen change N catches up with "change_seq > N", each change once. A
-- deletion clears the body (search and previews read it) and keeps the row, its id and its place.
-- reply_to_id names a message of the same conversation; messages are never deleted one by one (only
-- with their conversation), so it needs no foreign key.

-- +goose Up
ALTER TABLE messages ADD COLUMN edited_at DATETIME;
ALTER TABLE messages ADD COLUMN deleted_at DATETIME;
ALTER TABLE messages ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN reply_to_id BIGINT;
ALTER TABLE conversations ADD COLUMN last_change BIGINT NOT NULL DEFAULT 0;
CREATE INDEX messages_changes ON messages (conversation_id, change_seq) WHERE change_seq > 0;

-- +goose Down
DROP INDEX messages_changes;
ALTER TABLE conversations DROP COLUMN last_change;
ALTER TABLE messages DROP COLUMN reply_to_id;
ALTER TABLE messages DROP COLUMN change_seq;
ALTER TABLE messages DROP COLUMN deleted_at;
ALTER TABLE messages DROP COLUMN edited_at;
