package store

import "context"

// UnreadBetween returns how many of b's messages a has not read, and how many of a's b has not: the
// badges of the two users' rows for each other. Both counts use the partial index on unread messages.
func (s *Store) UnreadBetween(ctx context.Context, a, b int64) (aUnread, bUnread int64, err error) {
	var row struct{ A, B int64 }
	err = s.q(ctx).Raw(`SELECT
		(SELECT COUNT(*) FROM messages WHERE recipient_user_id = ? AND sender_user_id = ? AND unread) AS a,
		(SELECT COUNT(*) FROM messages WHERE recipient_user_id = ? AND sender_user_id = ? AND unread) AS b`,
		a, b, b, a).Scan(&row).Error
	return row.A, row.B, wrap("unread between", err)
}
