package store

import (
	"context"
	"database/sql"
	"math"
	"strings"

	"messenger/migrations"
	"messenger/models"
)

// SearchPage is a page of hits, newest first, and whether older ones exist.
type SearchPage struct {
	Hits    []models.SearchHit
	HasMore bool
}

// searchSQL finds the viewer's messages whose words start with every term, newest first, before a
// message id (keyset). SQLite walks its FTS5 index in descending rowid order and stops at the limit;
// PostgreSQL uses the GIN index on the body's words (the expression must be the index's, word for
// word). Either way only the viewer's own messages qualify, whatever the index holds.
var searchSQL = map[migrations.Dialect]string{
	migrations.SQLite: searchHead + `FROM messages_fts JOIN messages m ON m.message_id = messages_fts.rowid ` + searchJoin + `
WHERE messages_fts MATCH @query AND messages_fts.rowid < @before AND ` + searchMine + `
ORDER BY messages_fts.rowid DESC LIMIT @limit`,
	migrations.Postgres: searchHead + `FROM messages m ` + searchJoin + `
WHERE to_tsvector('simple', m.message_body) @@ to_tsquery('simple', @query) AND m.message_id < @before AND ` + searchMine + `
ORDER BY m.message_id DESC LIMIT @limit`,
}

const (
	searchHead = `SELECT m.message_id, m.conversation_id, m.seq, m.message_date, m.message_body, m.sender_user_id,
       m.recipient_user_id, m.unread, p.user_id AS partner_id, p.username AS partner_username,
       p.first_name AS partner_first_name, p.last_name AS partner_last_name
`
	searchJoin = `JOIN users p ON p.user_id = CASE WHEN m.sender_user_id = @viewer THEN m.recipient_user_id ELSE m.sender_user_id END`
	searchMine = `(m.sender_user_id = @viewer OR m.recipient_user_id = @viewer)`
)

type searchRow struct {
	models.Message
	PartnerID        int64
	PartnerUsername  string
	PartnerFirstName string
	PartnerLastName  string
}

// SearchMessages returns up to limit of the viewer's messages (sent or received, in any of their
// conversations) that contain a word starting with each of terms (models.SearchTerms), newest first,
// older than the message beforeID (0: from the newest). No terms find nothing.
func (s *Store) SearchMessages(ctx context.Context, viewerID int64, terms []string, beforeID int64, limit int) (SearchPage, error) {
	if len(terms) == 0 {
		return SearchPage{}, nil
	}
	if beforeID <= 0 {
		beforeID = math.MaxInt64
	}
	var rows []searchRow
	err := s.r(ctx).Raw(searchSQL[s.dialect], sql.Named("query", s.searchQuery(terms)), sql.Named("viewer", viewerID),
		sql.Named("before", beforeID), sql.Named("limit", limit+1)).Scan(&rows).Error
	if err != nil {
		return SearchPage{}, wrap("search messages", err)
	}
	page := SearchPage{HasMore: len(rows) > limit}
	if page.HasMore {
		rows = rows[:limit]
	}
	page.Hits = make([]models.SearchHit, len(rows))
	for i, r := range rows {
		page.Hits[i] = models.SearchHit{Message: r.Message, Partner: models.User{UserID: r.PartnerID, Username: r.PartnerUsername,
			FirstName: r.PartnerFirstName, LastName: r.PartnerLastName}}
	}
	return page, nil
}

// searchQuery writes the terms in the dialect's query syntax, each a quoted prefix, all required. The
// terms are words (letters, digits, marks) already; the quoting makes sure, were one anything else,
// that it stays a word.
func (s *Store) searchQuery(terms []string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		if s.dialect == migrations.Postgres {
			parts[i] = "'" + strings.NewReplacer(`'`, `''`, `\`, `\\`).Replace(t) + "':*"
		} else {
			parts[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"*`
		}
	}
	if s.dialect == migrations.Postgres {
		return strings.Join(parts, " & ")
	}
	return strings.Join(parts, " ")
}
