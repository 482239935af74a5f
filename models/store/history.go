package store

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"messenger/migrations"
	"messenger/models"
)

// History is what a conversation page shows of one partner: who they are, the conversation (0 when
// the two never wrote) and a page of its messages.
type History struct {
	// Partner holds the public fields only: id, names, gender, username (and its key). Presence and
	// timestamps come with the users list.
	Partner        models.User
	ConversationID int64
	// LastChange is the conversation's change number as the page was read: a page catches up on the
	// edits and deletions after it.
	LastChange int64
	Page
}

// historySQL finds the partner by username key, the viewer's username, their conversation, the
// cursor message's seq and the page before it (n rows at most), in one statement. Every join before the
// page is a unique lookup (one row at most), so the page is a keyset range on the unique index
// (conversation_id, seq), read backwards in index order and cut at the limit: the same work at any
// depth. SQLite sees that through a flat join; PostgreSQL needs the page as a LATERAL subquery (it
// would sort the whole conversation otherwise). Without a cursor (0) the page ends at the newest
// message; with one that is not in this conversation cur.seq is NULL and the page empty. The
// messages' usernames are the two users'. The statement is prepared once per text (statements).
func historySQL(dialect migrations.Dialect, n int) string {
	if dialect == migrations.Postgres {
		return rebind(dialect, historyHead+`LEFT JOIN LATERAL (SELECT * FROM messages m WHERE m.conversation_id = c.conversation_id AND `+
			historyRange+` ORDER BY m.seq DESC`+limitClause(n)+`) m ON true`+historyWhere)
	}
	return historyHead + `LEFT JOIN messages m ON m.conversation_id = c.conversation_id AND ` + historyRange + historyWhere +
		` ORDER BY m.seq DESC` + limitClause(n)
}

const (
	historyHead = `SELECT p.user_id, p.first_name, p.last_name, p.gender, p.username, v.username, c.conversation_id, c.last_change, cur.seq,
       m.message_id, m.seq, m.message_date, m.message_body, m.sender_user_id, m.unread, m.client_id,
       m.edited_at, m.deleted_at, m.change_seq, m.reply_to_id
FROM users p
JOIN users v ON v.user_id = ?
LEFT JOIN conversations c
       ON c.user_low_id = CASE WHEN p.user_id < v.user_id THEN p.user_id ELSE v.user_id END
      AND c.user_high_id = CASE WHEN p.user_id < v.user_id THEN v.user_id ELSE p.user_id END
LEFT JOIN messages cur ON cur.message_id = ? AND cur.conversation_id = c.conversation_id
`
	historyRange = `m.seq < CASE WHEN CAST(? AS BIGINT) = 0 THEN CAST(? AS BIGINT) ELSE cur.seq END`
	historyWhere = `
WHERE p.username_key = ? AND p.user_id <> v.user_id`
)

func historyArgs(viewerID int64, partnerName string, beforeID int64) []any {
	return []any{viewerID, beforeID, beforeID, int64(math.MaxInt64), models.UsernameKey(partnerName)}
}

// History returns, in one query, the user named partnerName (ErrNotFound for no such user or the
// viewer), their conversation with viewerID and up to limit of its messages before the message
// beforeID (0: the newest), oldest first. A beforeID that is not a message of this conversation is
// ErrNotFound (with the partner set): a cursor from a URL names nothing of another pair's.
func (s *Store) History(ctx context.Context, viewerID int64, partnerName string, beforeID int64, limit int) (History, error) {
	stmt, err := s.stmts.get(ctx, s.readerDB, historySQL(s.dialect, limit+1))
	if err != nil {
		return History{}, wrap("history", err)
	}
	rows, err := stmt.QueryContext(ctx, historyArgs(viewerID, partnerName, beforeID)...)
	if err != nil {
		return History{}, wrap("history", err)
	}
	defer rows.Close()
	var h History
	p := &h.Partner
	var viewerName string
	var conv, lastChange, cursorSeq, id, seq, sender, changeSeq *int64
	var date *time.Time
	var edited, deleted *time.Time
	var replyTo *int64
	var body, clientID *string
	var unread *bool
	found := false
	for rows.Next() {
		clientID, edited, deleted, replyTo = nil, nil, nil, nil // each message its own pointers
		if err := rows.Scan(&p.UserID, &p.FirstName, &p.LastName, &p.Gender, &p.Username, &viewerName, &conv, &lastChange, &cursorSeq,
			&id, &seq, &date, &body, &sender, &unread, &clientID, &edited, &deleted, &changeSeq, &replyTo); err != nil {
			return History{}, wrap("history", err)
		}
		found = true
		if id == nil {
			continue
		}
		m := models.ExtendedMessage{Message: models.Message{MessageID: *id, ConversationID: *conv, Seq: *seq,
			MessageDate: *date, MessageBody: *body, SenderUserID: *sender, Unread: *unread, ClientID: clientID,
			EditedAt: edited, DeletedAt: deleted, ChangeSeq: *changeSeq, ReplyToID: replyTo}}
		if *sender == viewerID {
			m.RecipientUserID, m.SenderUsername, m.RecipientUsername = p.UserID, viewerName, p.Username
		} else {
			m.RecipientUserID, m.SenderUsername, m.RecipientUsername = viewerID, p.Username, viewerName
		}
		h.Messages = append(h.Messages, m)
	}
	if err := rows.Err(); err != nil {
		return History{}, wrap("history", err)
	}
	if !found {
		return History{}, wrap("history: partner", ErrNotFound)
	}
	p.UsernameKey = models.UsernameKey(p.Username)
	if beforeID != 0 && cursorSeq == nil {
		return History{Partner: h.Partner}, wrap("history: cursor", ErrNotFound)
	}
	h.ConversationID, h.LastChange = deref(conv), deref(lastChange)
	slices.SortFunc(h.Messages, func(a, b models.ExtendedMessage) int { return cmp.Compare(a.Seq, b.Seq) })
	if h.HasOlder = len(h.Messages) > limit; h.HasOlder {
		h.Messages = h.Messages[1:]
	}
	if err := s.withQuotes(ctx, h.Messages); err != nil {
		return History{}, err
	}
	return h, s.withPageAttachments(ctx, h.Messages)
}
