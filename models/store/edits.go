package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"messenger/models"
)

// Change is a message as an edit or a deletion left it.
type Change struct {
	Message models.ExtendedMessage
	// Last says the message is its conversation's newest: the users-list previews show it.
	Last bool
}

// EditMessage replaces the body of a message that senderID sent to recipientID. A message that is not
// theirs, or not to that recipient, is ErrNotFound; a deleted one is ErrConflict.
func (s *Store) EditMessage(ctx context.Context, senderID, recipientID, messageID int64, body string) (Change, error) {
	return s.changeMessage(ctx, "edit message", senderID, recipientID, messageID, false,
		`message_body = ?, edited_at = ?`, body, now().Truncate(time.Microsecond))
}

// DeleteMessage deletes a message that senderID sent to recipientID: the row keeps its id and place,
// its body is cleared (search and previews read the column) and it no longer counts as unread.
// A message that is not theirs is ErrNotFound; one deleted already is ErrConflict.
func (s *Store) DeleteMessage(ctx context.Context, senderID, recipientID, messageID int64) (Change, error) {
	return s.changeMessage(ctx, "delete message", senderID, recipientID, messageID, true,
		`message_body = '', deleted_at = ?, unread = ?`, now().Truncate(time.Microsecond), false)
}

// changeMessage applies set to one message in one transaction. It locks the message row first and
// then its conversation's, the order MarkRead takes them in (no deadlock between the two), and takes
// the conversation's next change number: the conversation row stays locked until commit, so change
// numbers commit in order, like sequence numbers, and "change_seq > N" never skips one. A deletion
// of an unread message lowers the recipient's unread counter with it.
func (s *Store) changeMessage(ctx context.Context, op string, senderID, recipientID, messageID int64, deleting bool, set string, args ...any) (Change, error) {
	var ch Change
	err := s.q(ctx).Transaction(func(tx *gorm.DB) error {
		// A write first: it locks the row (and takes SQLite's write lock at once).
		var target []struct {
			ConversationID int64
			Unread         bool
			Deleted        bool
		}
		err := tx.Raw(`UPDATE messages SET change_seq = change_seq
			WHERE message_id = ? AND sender_user_id = ? AND recipient_user_id = ?
			RETURNING conversation_id, unread, deleted_at IS NOT NULL AS deleted`, messageID, senderID, recipientID).Scan(&target).Error
		switch {
		case err != nil:
			return err
		case len(target) == 0:
			return ErrNotFound
		case target[0].Deleted:
			return ErrConflict
		}
		read := 0
		if deleting && target[0].Unread {
			read = 1
		}
		var conv []struct {
			LastChange    int64
			LastMessageID *int64
		}
		err = tx.Raw(`UPDATE conversations SET last_change = last_change + 1,
				low_unread = low_unread - CASE WHEN user_low_id = ? THEN ? ELSE 0 END,
				high_unread = high_unread - CASE WHEN user_high_id = ? THEN ? ELSE 0 END
			WHERE conversation_id = ? RETURNING last_change, last_message_id`,
			recipientID, read, recipientID, read, target[0].ConversationID).Scan(&conv).Error
		if err == nil && len(conv) == 0 {
			err = ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE messages SET `+set+`, change_seq = ? WHERE message_id = ?`,
			append(args, conv[0].LastChange, messageID)...).Error; err != nil {
			return err
		}
		var msgs []models.ExtendedMessage
		if err := tx.Raw(extendedSelect+`WHERE m.message_id = ?`, messageID).Scan(&msgs).Error; err != nil {
			return err
		}
		if len(msgs) == 0 {
			return ErrNotFound
		}
		ch = Change{Message: msgs[0], Last: conv[0].LastMessageID != nil && *conv[0].LastMessageID == messageID}
		return nil
	})
	if err == nil {
		changed := []models.ExtendedMessage{ch.Message}
		err = s.withPageAttachments(ctx, changed)
		ch.Message = changed[0]
		if err == nil {
			err = s.withQuotes(ctx, changed)
			ch.Message = changed[0]
		}
	}
	return ch, wrap(op, err)
}

// ChangesAfter returns up to limit messages of a conversation changed after change number after, in
// the order of their changes, as they are now: what a page that has seen change after is missing.
func (s *Store) ChangesAfter(ctx context.Context, conversationID, after int64, limit int) ([]models.ExtendedMessage, error) {
	var msgs []models.ExtendedMessage
	err := s.r(ctx).Raw(extendedSelect+`WHERE m.conversation_id = ? AND m.change_seq > 0 AND m.change_seq > ?
		ORDER BY m.change_seq`+limitClause(limit), conversationID, after).Scan(&msgs).Error
	if err == nil {
		if err = s.withPageAttachments(ctx, msgs); err == nil {
			err = s.withQuotes(ctx, msgs)
		}
	}
	return msgs, wrap("changes after", err)
}

// quoteSelect reads what a reply quotes of a message: its sender, the start of its text (one
// character more than a quote shows, so a view can tell it goes on) and whether it was deleted.
const quoteSelect = `SELECT m.message_id, su.username AS sender_username, substr(m.message_body, 1, ?) AS body,
       m.deleted_at IS NOT NULL AS deleted
FROM messages m
JOIN users su ON su.user_id = m.sender_user_id `

// QuoteInConversation quotes message id when it belongs to the conversation of users a and b (either
// way): a reply names it. Any other id is ErrNotFound.
func (s *Store) QuoteInConversation(ctx context.Context, a, b, id int64) (models.Quote, error) {
	var quotes []models.Quote
	err := s.r(ctx).Raw(quoteSelect+`WHERE m.message_id = ?
		AND ((m.sender_user_id = ? AND m.recipient_user_id = ?) OR (m.sender_user_id = ? AND m.recipient_user_id = ?))`,
		models.QuoteLen+1, id, a, b, b, a).Scan(&quotes).Error
	if err == nil && len(quotes) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return models.Quote{}, wrap("quote in conversation", err)
	}
	return quotes[0], nil
}

// withQuotes fills in the quotes of the replies among msgs, with one query for all of them.
func (s *Store) withQuotes(ctx context.Context, msgs []models.ExtendedMessage) error {
	var ids []int64
	for _, m := range msgs {
		if m.ReplyToID != nil {
			ids = append(ids, *m.ReplyToID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var quotes []models.Quote
	if err := s.r(ctx).Raw(quoteSelect+`WHERE m.message_id IN ?`, models.QuoteLen+1, ids).Scan(&quotes).Error; err != nil {
		return wrap("quotes", err)
	}
	byID := make(map[int64]*models.Quote, len(quotes))
	for i := range quotes {
		byID[quotes[i].MessageID] = &quotes[i]
	}
	for i := range msgs {
		if id := msgs[i].ReplyToID; id != nil {
			msgs[i].ReplyTo = byID[*id]
		}
	}
	return nil
}
