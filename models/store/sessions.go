package store

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"messenger/models"
)

// SaveSession inserts or updates a session row.
func (s *Store) SaveSession(ctx context.Context, sess *models.Session) error {
	// SQLite compares timestamps as text, which orders instants only when all are written in UTC.
	sess.CreatedAt, sess.LastActiveAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.LastActiveAt.UTC(), sess.ExpiresAt.UTC()
	err := s.q(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(sess).Error
	return wrap("save session", err)
}

// SessionByID returns a session that has not expired.
func (s *Store) SessionByID(ctx context.Context, id string) (models.Session, error) {
	var sess models.Session
	err := s.q(ctx).Where("session_id = ? AND expires_at > ?", id, now()).Take(&sess).Error
	return sess, wrap("session by id", err)
}

// DeleteSession removes a session; a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return wrap("delete session", s.q(ctx).Where("session_id = ?", id).Delete(&models.Session{}).Error)
}

// DeleteExpiredSessions removes sessions past their expiry and returns how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res := s.q(ctx).Where("expires_at <= ?", now()).Delete(&models.Session{})
	return res.RowsAffected, wrap("delete expired sessions", res.Error)
}

// Heartbeat records that an instance is alive; its presence rows count while the heartbeat is fresh.
func (s *Store) Heartbeat(ctx context.Context, instanceID string) error {
	err := s.q(ctx).Exec(`INSERT INTO instances (instance_id, heartbeat_at) VALUES (?, ?)
		ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`, instanceID, now()).Error
	return wrap("heartbeat", err)
}

// SetPresence records how many sockets a user has open on an instance (0 removes the row).
func (s *Store) SetPresence(ctx context.Context, instanceID string, userID int64, sockets int) error {
	var err error
	if sockets <= 0 {
		err = s.q(ctx).Exec(`DELETE FROM presence WHERE instance_id = ? AND user_id = ?`, instanceID, userID).Error
	} else {
		err = s.q(ctx).Exec(`INSERT INTO presence (instance_id, user_id, sockets) VALUES (?, ?, ?)
			ON CONFLICT (instance_id, user_id) DO UPDATE SET sockets = excluded.sockets`, instanceID, userID, sockets).Error
	}
	return wrap("set presence", err)
}

// RemoveInstance deletes an instance and its presence rows (graceful shutdown), and instances whose
// heartbeat is older than staleAfter (killed ones).
func (s *Store) RemoveInstance(ctx context.Context, instanceID string, staleAfter time.Duration) error {
	err := s.q(ctx).Exec(`DELETE FROM instances WHERE instance_id = ? OR heartbeat_at < ?`, instanceID, now().Add(-staleAfter)).Error
	return wrap("remove instance", err)
}

// Online reports whether a user has a socket on a live instance or used the plain pages lately.
func (s *Store) Online(ctx context.Context, userID int64) (bool, error) {
	var online bool
	t := now()
	err := s.q(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM users u WHERE u.user_id = ? AND (u.active_until > ? OR EXISTS (
			SELECT 1 FROM presence p JOIN instances i ON i.instance_id = p.instance_id
			WHERE p.user_id = u.user_id AND p.sockets > 0 AND i.heartbeat_at > ?)))`,
		userID, t, t.Add(-PresenceFreshness)).Scan(&online).Error
	return online, wrap("online", err)
}
