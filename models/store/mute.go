package store

import (
	"context"
	"database/sql"
)

// SetMuted mutes (or unmutes) userID's conversation with partnerID for userID alone; doing it twice
// is the same as once.
func (s *Store) SetMuted(ctx context.Context, userID, partnerID int64, muted bool) error {
	var err error
	if muted {
		err = s.q(ctx).Exec(`INSERT INTO conversation_mutes (user_id, partner_id, muted_at) VALUES (@user, @partner, @now)
ON CONFLICT (user_id, partner_id) DO NOTHING`,
			sql.Named("user", userID), sql.Named("partner", partnerID), sql.Named("now", now())).Error
	} else {
		err = s.q(ctx).Exec(`DELETE FROM conversation_mutes WHERE user_id = ? AND partner_id = ?`, userID, partnerID).Error
	}
	return wrap("set muted", err)
}

// MutedPartners is the set of users whose conversation userID has muted.
func (s *Store) MutedPartners(ctx context.Context, userID int64) (map[int64]bool, error) {
	var ids []int64
	if err := s.r(ctx).Raw(`SELECT partner_id FROM conversation_mutes WHERE user_id = ?`, userID).Scan(&ids).Error; err != nil {
		return nil, wrap("muted partners", err)
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
