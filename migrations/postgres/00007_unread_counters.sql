-- Each conversation keeps how many messages each of its two users has not read (low_unread: sent to
-- user_low_id; high_unread: sent to user_high_id), so that a send and the users list read a counter
-- instead of counting rows. The send batch adds to them in the transaction that inserts the messages;
-- MarkRead subtracts in the one that clears the unread flags. The backfill counts the flags through
-- the partial index on unread messages.

-- +goose Up
ALTER TABLE conversations ADD COLUMN low_unread BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN high_unread BIGINT NOT NULL DEFAULT 0;
UPDATE conversations SET
    low_unread = (SELECT COUNT(*) FROM messages m
                  WHERE m.recipient_user_id = conversations.user_low_id
                    AND m.sender_user_id = conversations.user_high_id AND m.unread),
    high_unread = (SELECT COUNT(*) FROM messages m
                   WHERE m.recipient_user_id = conversations.user_high_id
                     AND m.sender_user_id = conversations.user_low_id AND m.unread);

-- +goose Down
ALTER TABLE conversations DROP COLUMN high_unread;
ALTER TABLE conversations DROP COLUMN low_unread;
