package store

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"gorm.io/gorm"

	"messenger/migrations"
	"messenger/models"
)

const extendedSelect = `SELECT m.*, su.username AS sender_username, ru.username AS recipient_username
FROM messages m
JOIN users su ON su.user_id = m.sender_user_id
JOIN users ru ON ru.user_id = m.recipient_user_id `

func (s *Store) messageByClientID(ctx context.Context, senderID int64, clientID string) (models.ExtendedMessage, error) {
	var msgs []models.ExtendedMessage
	err := s.r(ctx).Raw(extendedSelect+`WHERE m.sender_user_id = ? AND m.client_id = ?`, senderID, clientID).Scan(&msgs).Error
	if err == nil {
		err = s.withPageAttachments(ctx, msgs)
	}
	return first(msgs, "message by client id", err)
}

// MessageByID returns one message with both usernames.
func (s *Store) MessageByID(ctx context.Context, id int64) (models.ExtendedMessage, error) {
	var msgs []models.ExtendedMessage
	err := s.r(ctx).Raw(extendedSelect+`WHERE m.message_id = ?`, id).Scan(&msgs).Error
	if err == nil {
		if err = s.withPageAttachments(ctx, msgs); err == nil {
			err = s.withQuotes(ctx, msgs)
		}
	}
	return first(msgs, "message by id", err)
}

func first(msgs []models.ExtendedMessage, op string, err error) (models.ExtendedMessage, error) {
	if err != nil {
		return models.ExtendedMessage{}, wrap(op, err)
	}
	if len(msgs) == 0 {
		return models.ExtendedMessage{}, wrap(op, ErrNotFound)
	}
	return msgs[0], nil
}

// ConversationBetween returns the conversation of two users, ErrNotFound if they never wrote.
func (s *Store) ConversationBetween(ctx context.Context, a, b int64) (models.Conversation, error) {
	if a > b {
		a, b = b, a
	}
	var c models.Conversation
	err := s.r(ctx).Where("user_low_id = ? AND user_high_id = ?", a, b).Take(&c).Error
	return c, wrap("conversation between", err)
}

// Page is a run of messages, oldest first, and whether older ones exist.
type Page struct {
	Messages []models.ExtendedMessage
	HasOlder bool
}

// MessagesBefore returns up to limit messages of a conversation whose seq is below beforeSeq (0: the
// newest), oldest first. Keyset pagination on (conversation_id, seq): an index range scan at any depth.
func (s *Store) MessagesBefore(ctx context.Context, conversationID, beforeSeq int64, limit int) (Page, error) {
	var msgs []models.ExtendedMessage
	q := extendedSelect + `WHERE m.conversation_id = ? `
	args := []any{conversationID}
	if beforeSeq > 0 {
		q += `AND m.seq < ? `
		args = append(args, beforeSeq)
	}
	if err := s.r(ctx).Raw(q+`ORDER BY m.seq DESC`+limitClause(limit+1), args...).Scan(&msgs).Error; err != nil {
		return Page{}, wrap("messages before", err)
	}
	page := Page{HasOlder: len(msgs) > limit}
	if page.HasOlder {
		msgs = msgs[:limit]
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	page.Messages = msgs
	return page, s.withPageAttachments(ctx, msgs)
}

// MessagesAfter returns up to limit messages with seq above afterSeq, oldest first: what a page that
// has seen afterSeq is missing.
func (s *Store) MessagesAfter(ctx context.Context, conversationID, afterSeq int64, limit int) ([]models.ExtendedMessage, error) {
	var msgs []models.ExtendedMessage
	err := s.r(ctx).Raw(extendedSelect+`WHERE m.conversation_id = ? AND m.seq > ? ORDER BY m.seq`+limitClause(limit),
		conversationID, afterSeq).Scan(&msgs).Error
	if err == nil {
		if err = s.withPageAttachments(ctx, msgs); err == nil {
			err = s.withQuotes(ctx, msgs)
		}
	}
	return msgs, wrap("messages after", err)
}

// MessageInConversation finds a message by id within one conversation (a cursor from a URL).
func (s *Store) MessageInConversation(ctx context.Context, conversationID, messageID int64) (models.Message, error) {
	var m models.Message
	err := s.r(ctx).Where("message_id = ? AND conversation_id = ?", messageID, conversationID).Take(&m).Error
	return m, wrap("message in conversation", err)
}

// MarkRead marks read the messages of the conversation sent to readerID up to seq throughSeq: the
// newest the reader was shown. A message that arrives (or commits late) after the reader's page or
// socket saw throughSeq stays unread, however soon after it the mark runs. It returns how many changed
// and the id of the newest message now read (0 when none changed).
//
// The reader's unread counter in the conversation goes down by as many, atomically with the flags:
// PostgreSQL in one statement (committed by itself, like the flags alone were), SQLite in one
// transaction on its one writer.
func (s *Store) MarkRead(ctx context.Context, conversationID, readerID, throughSeq int64) (int64, int64, error) {
	const clearFlags = `UPDATE messages SET unread = FALSE
		WHERE conversation_id = @conv AND recipient_user_id = @reader AND unread AND seq <= @through RETURNING message_id`
	const lowerCounter = `UPDATE conversations SET
		low_unread = low_unread - CASE WHEN user_low_id = @reader THEN @n ELSE 0 END,
		high_unread = high_unread - CASE WHEN user_high_id = @reader THEN @n ELSE 0 END
		WHERE conversation_id = @conv`
	args := []any{sql.Named("conv", conversationID), sql.Named("reader", readerID), sql.Named("through", throughSeq)}
	var n, newest int64
	var err error
	if s.dialect == migrations.Postgres {
		err = s.q(ctx).Raw(`WITH r AS (`+clearFlags+`),
			c AS (`+strings.Replace(lowerCounter, "@n", "(SELECT COUNT(*) FROM r)", 2)+` AND EXISTS (SELECT 1 FROM r))
			SELECT COUNT(*), COALESCE(MAX(message_id), 0) FROM r`, args...).Row().Scan(&n, &newest)
	} else {
		err = s.q(ctx).Transaction(func(tx *gorm.DB) error {
			var ids []int64
			if err := tx.Raw(clearFlags, args...).Scan(&ids).Error; err != nil || len(ids) == 0 {
				return err
			}
			n, newest = int64(len(ids)), slices.Max(ids)
			return tx.Exec(lowerCounter, append(args, sql.Named("n", n))...).Error
		})
	}
	if err != nil {
		return 0, 0, wrap("mark read", err)
	}
	return n, newest, nil
}

// UnreadCount is how many messages userID has not read, over all conversations.
func (s *Store) UnreadCount(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.r(ctx).Model(&models.Message{}).Where("recipient_user_id = ? AND unread", userID).Count(&n).Error
	return n, wrap("unread count", err)
}
