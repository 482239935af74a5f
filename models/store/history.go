package store

import (
	"cmp"
	"context"
	"database/sql"
	"math"
	"slices"
	"time"

	"messenger/models"
)

// History is what a conversation page shows of one partner: who they are, the conversation (0 when
// the two never wrote) and a page of its messages.
type History struct {
	Partner        models.User
	ConversationID int64
	Page
}

// historySQL finds the partner by username key, their conversation with the viewer, the cursor
// message's seq and the page before it, in one statement. The page is a keyset range on the unique
// index (conversation_id, seq), read backwards and cut at the limit: the same work at any depth.
// Without a cursor the page ends at the newest message; with one that is not in this conversation,
// the page is empty and cursor_ok false.
const historySQL = `
WITH p AS (
    SELECT * FROM users WHERE username_key = @key AND user_id <> @viewer
), c AS (
    SELECT c.conversation_id FROM conversations c, p
    WHERE c.user_low_id = CASE WHEN p.user_id < @viewer THEN p.user_id ELSE @viewer END
      AND c.user_high_id = CASE WHEN p.user_id < @viewer THEN @viewer ELSE p.user_id END
), cur AS (
    SELECT m.seq FROM messages m, c WHERE m.message_id = @before AND m.conversation_id = c.conversation_id
), page AS (
    SELECT m.* FROM messages m
    WHERE m.conversation_id = (SELECT conversation_id FROM c)
      AND m.seq < CASE WHEN CAST(@before AS BIGINT) = 0 THEN @maxseq ELSE (SELECT seq FROM cur) END
    ORDER BY m.seq DESC LIMIT @limit
)
SELECT p.user_id AS p_user_id, p.first_name AS p_first_name, p.last_name AS p_last_name, p.gender AS p_gender,
       p.username AS p_username, p.username_key AS p_username_key, p.username_skeleton AS p_username_skeleton, p.created_at AS p_created_at, p.last_seen_at AS p_last_seen_at,
       p.active_until AS p_active_until,
       (SELECT conversation_id FROM c) AS conv_id,
       (CAST(@before AS BIGINT) = 0 OR EXISTS (SELECT 1 FROM cur)) AS cursor_ok,
       page.message_id, page.conversation_id, page.seq, page.message_date, page.message_body,
       page.sender_user_id, page.recipient_user_id, page.unread, page.client_id,
       su.username AS sender_username, ru.username AS recipient_username
FROM p
LEFT JOIN page ON 1 = 1
LEFT JOIN users su ON su.user_id = page.sender_user_id
LEFT JOIN users ru ON ru.user_id = page.recipient_user_id`

type historyRow struct {
	PUserID           int64
	PFirstName        string
	PLastName         string
	PGender           models.Gender
	PUsername         string
	PUsernameKey      string
	PUsernameSkeleton *string
	PCreatedAt        time.Time
	PLastSeenAt       *time.Time
	PActiveUntil      *time.Time
	ConvID            *int64
	CursorOK          bool

	MessageID         *int64
	ConversationID    *int64
	Seq               *int64
	MessageDate       *time.Time
	MessageBody       *string
	SenderUserID      *int64
	RecipientUserID   *int64
	Unread            *bool
	ClientID          *string
	SenderUsername    *string
	RecipientUsername *string
}

// History returns, in one query, the user named partnerName (ErrNotFound for no such user or the
// viewer), their conversation with viewerID and up to limit of its messages before the message
// beforeID (0: the newest), oldest first. A beforeID that is not a message of this conversation is
// ErrNotFound: a cursor from a URL names nothing of another pair's.
func (s *Store) History(ctx context.Context, viewerID int64, partnerName string, beforeID int64, limit int) (History, error) {
	var rows []historyRow
	err := s.r(ctx).Raw(historySQL, historyArgs(viewerID, partnerName, beforeID, limit)...).Scan(&rows).Error
	if err != nil {
		return History{}, wrap("history", err)
	}
	if len(rows) == 0 {
		return History{}, wrap("history: partner", ErrNotFound)
	}
	r := rows[0]
	h := History{Partner: models.User{UserID: r.PUserID, FirstName: r.PFirstName, LastName: r.PLastName, Gender: r.PGender,
		Username: r.PUsername, UsernameKey: r.PUsernameKey, UsernameSkeleton: deref(r.PUsernameSkeleton), CreatedAt: r.PCreatedAt,
		LastSeenAt: r.PLastSeenAt, ActiveUntil: r.PActiveUntil}}
	if !r.CursorOK || (beforeID != 0 && r.ConvID == nil) {
		return History{}, wrap("history: cursor", ErrNotFound)
	}
	h.ConversationID = deref(r.ConvID)
	for _, r := range rows {
		if r.MessageID == nil {
			continue
		}
		h.Messages = append(h.Messages, models.ExtendedMessage{Message: models.Message{
			MessageID: *r.MessageID, ConversationID: *r.ConversationID, Seq: *r.Seq, MessageDate: *r.MessageDate,
			MessageBody: *r.MessageBody, SenderUserID: *r.SenderUserID, RecipientUserID: *r.RecipientUserID,
			Unread: *r.Unread, ClientID: r.ClientID,
		}, SenderUsername: deref(r.SenderUsername), RecipientUsername: deref(r.RecipientUsername)})
	}
	slices.SortFunc(h.Messages, func(a, b models.ExtendedMessage) int { return cmp.Compare(a.Seq, b.Seq) })
	if h.HasOlder = len(h.Messages) > limit; h.HasOlder {
		h.Messages = h.Messages[1:]
	}
	return h, nil
}

func historyArgs(viewerID int64, partnerName string, beforeID int64, limit int) []any {
	return []any{sql.Named("key", models.UsernameKey(partnerName)), sql.Named("viewer", viewerID),
		sql.Named("before", beforeID), sql.Named("maxseq", int64(math.MaxInt64)), sql.Named("limit", limit+1)}
}
