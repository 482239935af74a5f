package store

import (
	"context"
	"errors"

	"gorm.io/gorm"
)

// UnreadBetween returns how many of b's messages a has not read, and how many of a's b has not: the
// badges of the two users' rows for each other, read from their conversation's counters (zero when
// they never wrote).
func (s *Store) UnreadBetween(ctx context.Context, a, b int64) (aUnread, bUnread int64, err error) {
	low, high := min(a, b), max(a, b)
	var row struct{ LowUnread, HighUnread int64 }
	err = s.r(ctx).Table("conversations").Select("low_unread, high_unread").
		Where("user_low_id = ? AND user_high_id = ?", low, high).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, wrap("unread between", err)
	}
	if a == low {
		return row.LowUnread, row.HighUnread, nil
	}
	return row.HighUnread, row.LowUnread, nil
}
