package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"messenger/migrations"
	"messenger/models"
)

// SessionNotifier turns the hashes of sessions that ended into notifications for the running
// instances: a channel and its payloads, sent with pg_notify in the transaction that ends them.
type SessionNotifier func(hashes []string) (channel string, payloads []string)

// DisableUser marks a user disabled and ends every session of theirs (see expireSessions); it returns
// the hashes of the sessions it ended. Disabling a disabled user ends nothing more.
func (s *Store) DisableUser(ctx context.Context, userID int64, notify SessionNotifier) ([]string, error) {
	return s.changeAndEndSessions(ctx, "disable user", userID, map[string]any{"disabled_at": now()}, notify)
}

// EnableUser lets a disabled user sign in again.
func (s *Store) EnableUser(ctx context.Context, userID int64) error {
	res := s.q(ctx).Model(&models.User{}).Where("user_id = ?", userID).Update("disabled_at", nil)
	if res.Error == nil && res.RowsAffected == 0 {
		return wrap("enable user", ErrNotFound)
	}
	return wrap("enable user", res.Error)
}

// ResetPassword replaces a user's password hash and ends every session of theirs, as DisableUser does.
func (s *Store) ResetPassword(ctx context.Context, userID int64, hash string, notify SessionNotifier) ([]string, error) {
	return s.changeAndEndSessions(ctx, "reset password", userID, map[string]any{"password": hash}, notify)
}

// changeAndEndSessions updates a user's row and ends their sessions in one transaction, for a
// process other than the server (an administration command). The sessions expire now instead of
// going, so that every instance refuses them at once and its sweeper, which deletes expired sessions
// and closes their sockets, finds them: the sweeper looks for expired sessions every second
// (SessionsExpired); on PostgreSQL notify also tells every instance at once, committed with the change.
func (s *Store) changeAndEndSessions(ctx context.Context, op string, userID int64, updates map[string]any, notify SessionNotifier) ([]string, error) {
	var ended []string
	err := s.q(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&models.User{}).Where("user_id = ?", userID).Updates(updates)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		// Expired a microsecond ago: SessionByHash keeps rows whose expiry is after now.
		err := tx.Raw(`UPDATE sessions SET expires_at = ? WHERE user_id = ? AND expires_at > ? RETURNING id_hash`,
			now().Add(-time.Microsecond), userID, now()).Scan(&ended).Error
		if err != nil || len(ended) == 0 || notify == nil || s.dialect != migrations.Postgres {
			return err
		}
		channel, payloads := notify(ended)
		for _, p := range payloads {
			if err := tx.Exec(`SELECT pg_notify(?, ?)`, channel, p).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return ended, nil
}
