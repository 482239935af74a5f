package store

import (
	"context"
	"time"

	"messenger/models"
)

// CreateSession inserts a new signed-in session (at sign-in); a session is never re-inserted after
// that, so nothing can bring back a row that logout or expiry removed.
func (s *Store) CreateSession(ctx context.Context, sess *models.Session) error {
	// SQLite compares timestamps as text, which orders instants only when all are written in UTC.
	sess.CreatedAt, sess.LastActiveAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.LastActiveAt.UTC(), sess.ExpiresAt.UTC()
	return wrap("create session", s.q(ctx).Create(sess).Error)
}

// TouchSession records that a live session was used. False (and no error) means the row is gone or
// expired: the session ended, possibly while the request that touches it was in flight.
func (s *Store) TouchSession(ctx context.Context, idHash string, lastActive, expires time.Time) (bool, error) {
	res := s.q(ctx).Model(&models.Session{}).Where("id_hash = ? AND expires_at > ?", idHash, now()).
		Updates(map[string]any{"last_active_at": lastActive.UTC(), "expires_at": expires.UTC()})
	return res.RowsAffected > 0, wrap("touch session", res.Error)
}

// SessionByHash returns a session that has not expired.
func (s *Store) SessionByHash(ctx context.Context, idHash string) (models.Session, error) {
	var sess models.Session
	err := s.r(ctx).Where("id_hash = ? AND expires_at > ?", idHash, now()).Take(&sess).Error
	return sess, wrap("session by hash", err)
}

// DeleteSession removes a session; a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	return wrap("delete session", s.q(ctx).Where("id_hash = ?", idHash).Delete(&models.Session{}).Error)
}

// DeleteUserSessions removes every session of a user except the one named exceptHash ("" keeps none)
// and returns the hashes of those it removed, so their sockets and caches can be told.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64, exceptHash string) ([]string, error) {
	var ended []string
	err := s.q(ctx).Raw(`DELETE FROM sessions WHERE user_id = ? AND id_hash <> ? RETURNING id_hash`, userID, exceptHash).
		Scan(&ended).Error
	return ended, wrap("delete user sessions", err)
}

// DeleteExpiredSessions removes sessions past their expiry and returns their hashes.
func (s *Store) DeleteExpiredSessions(ctx context.Context) ([]string, error) {
	var ended []string
	err := s.q(ctx).Raw(`DELETE FROM sessions WHERE expires_at <= ? RETURNING id_hash`, now()).Scan(&ended).Error
	return ended, wrap("delete expired sessions", err)
}

// SessionsExpired reports whether a session has passed its expiry and waits for DeleteExpiredSessions.
// It reads one entry of the expiry index, so the sweeper can ask every second: an administration
// command (messenger user disable) ends sessions by expiring them, and their sockets must close at once.
// It keeps no state, so it cannot miss a change the way a per-connection counter such as SQLite's
// data_version can (a write before the first look, a reopened connection).
func (s *Store) SessionsExpired(ctx context.Context) (bool, error) {
	var ids []string
	err := s.r(ctx).Raw(`SELECT id_hash FROM sessions WHERE expires_at <= ? LIMIT 1`, now()).Scan(&ids).Error
	return len(ids) > 0, wrap("sessions expired", err)
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
	err := s.r(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM users u WHERE u.user_id = ? AND (u.active_until > ? OR EXISTS (
			SELECT 1 FROM presence p JOIN instances i ON i.instance_id = p.instance_id
			WHERE p.user_id = u.user_id AND p.sockets > 0 AND i.heartbeat_at > ?)))`,
		userID, t, t.Add(-PresenceFreshness)).Scan(&online).Error
	return online, wrap("online", err)
}
