package store

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strings"

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

// historySQL finds the partner by username key, the viewer's username, their conversation and the
// cursor message's seq (the head, h), and the page before the cursor (n rows at most) with the id of
// each message's attachment, in one statement. The head is its own row and each message another, the
// other side's columns NULL: a column costs a read per row (in modernc's driver a call that takes the
// connection's lock, for NULL too, but a NULL is not converted), and the head's nine were read 51
// times. The attachments and the quoted messages themselves are read after it, only for a page that
// has some (most have none): they were 15 more columns. Every join of the head is a unique lookup (one
// row at most), so the page is a keyset range on the unique index (conversation_id, seq), read
// backwards in index order and cut at the limit: the same work at any depth. PostgreSQL needs the page
// as a LATERAL subquery to see that (it would sort the whole conversation otherwise). Without a cursor
// (0) the page ends at the newest message; with one that is not in this conversation cur_seq is NULL
// and the page empty. The messages' usernames are the two users'. The statement is prepared once per
// text (statements).
func historySQL(dialect migrations.Dialect, n int) string {
	t := func(col string) string { // SQLite's times are read as their text, see decoder.time
		if dialect == migrations.Postgres {
			return col
		}
		return "CAST(" + col + " AS TEXT)"
	}
	nulls := func(k int) string { return strings.TrimSuffix(strings.Repeat("NULL, ", k), ", ") }
	page := `m.message_id, m.seq, ` + t("m.message_date") + `, m.message_body, m.sender_user_id, m.unread, m.client_id,
       ` + t("m.edited_at") + `, ` + t("m.deleted_at") + `, m.change_seq, m.reply_to_id, a.attachment_id`
	const before = `m.seq < CASE WHEN CAST(? AS BIGINT) = 0 THEN CAST(? AS BIGINT) ELSE h.cur_seq END`
	q := `WITH h AS (
SELECT p.user_id, p.first_name, p.last_name, p.gender, p.username, v.username AS viewer_name,
       c.conversation_id, c.last_change, cur.seq AS cur_seq
FROM users p
JOIN users v ON v.user_id = ?
LEFT JOIN conversations c
       ON c.user_low_id = CASE WHEN p.user_id < v.user_id THEN p.user_id ELSE v.user_id END
      AND c.user_high_id = CASE WHEN p.user_id < v.user_id THEN v.user_id ELSE p.user_id END
LEFT JOIN messages cur ON cur.message_id = ? AND cur.conversation_id = c.conversation_id
WHERE p.username_key = ? AND p.user_id <> v.user_id)
SELECT h.*, ` + nulls(12) + ` FROM h
UNION ALL
`
	if dialect == migrations.Postgres {
		return rebind(dialect, q+`SELECT `+nulls(9)+`, `+page+`
FROM h CROSS JOIN LATERAL (SELECT * FROM messages m WHERE m.conversation_id = h.conversation_id AND `+before+
			` ORDER BY m.seq DESC`+limitClause(n)+`) m
LEFT JOIN attachments a ON a.message_id = m.message_id`)
	}
	// SQLite merges the two in the order asked, the head first (its seq, column 11, is NULL) and then
	// the page newest first straight off the index, and stops at the limit: no sort, no subquery.
	return q + `SELECT ` + nulls(9) + `, ` + page + `
FROM h JOIN messages m ON m.conversation_id = h.conversation_id AND ` + before + `
LEFT JOIN attachments a ON a.message_id = m.message_id
ORDER BY 11 DESC NULLS FIRST` + limitClause(n+1)
}

func historyArgs(viewerID int64, partnerName string, beforeID int64) []any {
	return []any{viewerID, beforeID, models.UsernameKey(partnerName), beforeID, int64(math.MaxInt64)}
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
	var conv, lastChange, cursorSeq *int64
	// The columns are read as the driver gives them (no conversion through reflection) and decoded
	// below: the head's row has the partner's id, a message's row its id (in any order).
	vals := make([]any, 21)
	dests := make([]any, len(vals))
	for i := range vals {
		dests[i] = &vals[i]
	}
	found := false
	for rows.Next() {
		if err := rows.Scan(dests...); err != nil {
			return History{}, wrap("history", err)
		}
		var d decoder
		if vals[0] != nil {
			p.UserID, p.FirstName, p.LastName, p.Gender, p.Username = d.int(vals[0]), d.str(vals[1]), d.str(vals[2]), models.Gender(d.int(vals[3])), d.str(vals[4])
			viewerName, conv, lastChange, cursorSeq = d.str(vals[5]), optional(vals[6], d.int), optional(vals[7], d.int), optional(vals[8], d.int)
			found = true
		}
		if vals[9] != nil {
			h.Messages = append(h.Messages, d.historyMessage(vals[9:]))
		}
		if d.err != nil {
			return History{}, wrap("history", d.err)
		}
	}
	if err := rows.Err(); err != nil {
		return History{}, wrap("history", err)
	}
	if !found {
		return History{}, wrap("history: partner", ErrNotFound)
	}
	for i := range h.Messages {
		m := &h.Messages[i]
		m.ConversationID = deref(conv)
		if m.SenderUserID == viewerID {
			m.RecipientUserID, m.SenderUsername, m.RecipientUsername = p.UserID, viewerName, p.Username
		} else {
			m.RecipientUserID, m.SenderUsername, m.RecipientUsername = viewerID, p.Username, viewerName
		}
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
	var withFiles []*models.Message // marked by historyMessage
	for i := range h.Messages {
		if h.Messages[i].Attachment != nil {
			withFiles = append(withFiles, &h.Messages[i].Message)
		}
	}
	if err := errors.Join(s.withAttachments(ctx, withFiles...), s.withQuotes(ctx, h.Messages)); err != nil {
		return History{}, wrap("history", err)
	}
	return h, nil
}

// historyMessage decodes a message of a history page from its columns (from m.message_id on), all but
// its conversation, recipient and usernames (History sets them). A message with an attachment gets one
// holding only its id, for History to read in full.
func (d *decoder) historyMessage(v []any) models.ExtendedMessage {
	m := models.ExtendedMessage{Message: models.Message{MessageID: d.int(v[0]), Seq: d.int(v[1]), MessageDate: d.time(v[2]),
		MessageBody: d.str(v[3]), SenderUserID: d.int(v[4]), Unread: d.bool(v[5]), ClientID: optional(v[6], d.str),
		EditedAt: optional(v[7], d.time), DeletedAt: optional(v[8], d.time), ChangeSeq: d.int(v[9]), ReplyToID: optional(v[10], d.int)}}
	if v[11] != nil {
		m.Attachment = &models.Attachment{AttachmentID: d.int(v[11]), MessageID: m.MessageID}
	}
	return m
}
