package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// throttleKey stores a key as the hex SHA-256 of what it names: a row has the same small size
// however long the typed username or forwarded address was.
func throttleKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// ThrottleHit counts one attempt under key, atomically, so parallel attempts each see their own
// count. A key not seen before, or whose window has ended, starts a new window of the given length.
// It returns the hits in the current window (this one included) and when the window ends.
func (s *Store) ThrottleHit(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	t := now()
	var row struct {
		Hits    int
		ResetAt time.Time
	}
	err := s.q(ctx).Raw(`INSERT INTO throttle (key_hash, hits, reset_at) VALUES (?, 1, ?)
		ON CONFLICT (key_hash) DO UPDATE SET
			hits = CASE WHEN throttle.reset_at <= ? THEN 1 ELSE throttle.hits + 1 END,
			reset_at = CASE WHEN throttle.reset_at <= ? THEN excluded.reset_at ELSE throttle.reset_at END
		RETURNING hits, reset_at`, throttleKey(key), t.Add(window), t, t).Scan(&row).Error
	return row.Hits, row.ResetAt, wrap("throttle hit", err)
}

// ThrottleUndo takes back one hit under key: the attempt turned out not to count.
func (s *Store) ThrottleUndo(ctx context.Context, key string) error {
	err := s.q(ctx).Exec(`UPDATE throttle SET hits = hits - 1 WHERE key_hash = ? AND hits > 0`, throttleKey(key)).Error
	return wrap("throttle undo", err)
}

// ThrottleForget deletes the count under key.
func (s *Store) ThrottleForget(ctx context.Context, key string) error {
	return wrap("throttle forget", s.q(ctx).Exec(`DELETE FROM throttle WHERE key_hash = ?`, throttleKey(key)).Error)
}

// DeleteExpiredThrottles removes counts whose window has ended and returns how many.
func (s *Store) DeleteExpiredThrottles(ctx context.Context) (int64, error) {
	res := s.q(ctx).Exec(`DELETE FROM throttle WHERE reset_at <= ?`, now())
	return res.RowsAffected, wrap("delete expired throttles", res.Error)
}
