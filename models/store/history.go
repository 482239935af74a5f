package store

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"

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
// cursor message's seq and the page before it (n rows at most) with the id of each message's
// attachment, in one statement. The attachments and the quoted messages themselves are read after
// it, only for a page that has some (most have none): every column costs a read per row, and an
// attachment's and a quote's were 15 of the 35. Every join but the page is a unique lookup (one
// row at most), so the page is a keyset range on the unique index (conversation_id, seq), read
// backwards in index order and cut at the limit: the same work at any depth. SQLite sees that through
// a flat join; PostgreSQL needs the page as a LATERAL subquery (it would sort the whole conversation
// otherwise). Without a cursor (0) the page ends at the newest message; with one that is not in this
// conversation cur.seq is NULL and the page empty. The messages' usernames are the two users'. The
// statement is prepared once per text (statements).
func historySQL(dialect migrations.Dialect, n int) string {
	if dialect == migrations.Postgres {
		return rebind(dialect, historyHead(dialect)+`LEFT JOIN LATERAL (SELECT * FROM messages m WHERE m.conversation_id = c.conversation_id AND `+
			historyRange+` ORDER BY m.seq DESC`+limitClause(n)+`) m ON true`+historyExtras+historyWhere)
	}
	return historyHead(dialect) + `LEFT JOIN messages m ON m.conversation_id = c.conversation_id AND ` + historyRange + historyExtras + historyWhere +
		` ORDER BY m.seq DESC` + limitClause(n)
}

// historyHead selects the columns. SQLite's times are read as their text, which decoder.time parses
// with the format they are written in: the driver would try another format first for every value.
func historyHead(dialect migrations.Dialect) string {
	t := func(col string) string {
		if dialect == migrations.Postgres {
			return col
		}
		return "CAST(" + col + " AS TEXT)"
	}
	return `SELECT p.user_id, p.first_name, p.last_name, p.gender, p.username, v.username, c.conversation_id, c.last_change, cur.seq,
       m.message_id, m.seq, ` + t("m.message_date") + `, m.message_body, m.sender_user_id, m.unread, m.client_id,
       ` + t("m.edited_at") + `, ` + t("m.deleted_at") + `, m.change_seq, m.reply_to_id, a.attachment_id
FROM users p
JOIN users v ON v.user_id = ?
LEFT JOIN conversations c
       ON c.user_low_id = CASE WHEN p.user_id < v.user_id THEN p.user_id ELSE v.user_id END
      AND c.user_high_id = CASE WHEN p.user_id < v.user_id THEN v.user_id ELSE p.user_id END
LEFT JOIN messages cur ON cur.message_id = ? AND cur.conversation_id = c.conversation_id
`
}

const (
	historyRange  = `m.seq < CASE WHEN CAST(? AS BIGINT) = 0 THEN CAST(? AS BIGINT) ELSE cur.seq END`
	historyExtras = `
LEFT JOIN attachments a ON a.message_id = m.message_id`
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
	var conv, lastChange, cursorSeq *int64
	// The page's columns are read as the driver gives them (no conversion through reflection) and
	// decoded below: 21 columns of up to 51 rows are most of the work of a history page.
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
		if !found {
			p.UserID, p.FirstName, p.LastName, p.Gender, p.Username = d.int(vals[0]), d.str(vals[1]), d.str(vals[2]), models.Gender(d.int(vals[3])), d.str(vals[4])
			viewerName, conv, lastChange, cursorSeq = d.str(vals[5]), optional(vals[6], d.int), optional(vals[7], d.int), optional(vals[8], d.int)
		}
		found = true
		if vals[9] != nil {
			m := d.historyMessage(vals[9:], viewerID, viewerName, p)
			m.ConversationID = deref(conv)
			h.Messages = append(h.Messages, m)
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

// historyMessage decodes a message of a history page from its columns (from m.message_id on). A
// message with an attachment gets one holding only its id, for History to read in full.
func (d *decoder) historyMessage(v []any, viewerID int64, viewerName string, partner *models.User) models.ExtendedMessage {
	m := models.ExtendedMessage{Message: models.Message{MessageID: d.int(v[0]), Seq: d.int(v[1]), MessageDate: d.time(v[2]),
		MessageBody: d.str(v[3]), SenderUserID: d.int(v[4]), Unread: d.bool(v[5]), ClientID: optional(v[6], d.str),
		EditedAt: optional(v[7], d.time), DeletedAt: optional(v[8], d.time), ChangeSeq: d.int(v[9]), ReplyToID: optional(v[10], d.int)}}
	if m.SenderUserID == viewerID {
		m.RecipientUserID, m.SenderUsername, m.RecipientUsername = partner.UserID, viewerName, partner.Username
	} else {
		m.RecipientUserID, m.SenderUsername, m.RecipientUsername = viewerID, partner.Username, viewerName
	}
	if v[11] != nil {
		m.Attachment = &models.Attachment{AttachmentID: d.int(v[11]), MessageID: m.MessageID}
	}
	return m
}
