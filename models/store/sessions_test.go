package store_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"messenger/models"
	"messenger/models/store"
)

func sameInstant(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Microsecond && d < time.Microsecond // PostgreSQL keeps microseconds
}

// A session is inserted once and afterwards only updated: a touch of a deleted (or expired) session
// reports it gone and brings nothing back.
func TestSessionCreatedOnceThenOnlyTouched(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice := createUser(t, s, "alice")
		start := time.Now().UTC()
		sess := models.Session{IDHash: "h1", UserID: alice.UserID, CSRFToken: "tok", CreatedAt: start, LastActiveAt: start, ExpiresAt: start.Add(time.Hour)}
		if err := s.CreateSession(ctx, &sess); err != nil {
			t.Fatal(err)
		}
		again := sess
		if err := s.CreateSession(ctx, &again); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second insert of one hash: %v, want ErrConflict", err)
		}
		later, expires := start.Add(time.Minute), start.Add(2*time.Hour)
		if live, err := s.TouchSession(ctx, "h1", later, expires); err != nil || !live {
			t.Fatalf("touch: %v, %v; want live", live, err)
		}
		got, err := s.SessionByHash(ctx, "h1")
		if err != nil || got.UserID != alice.UserID || got.CSRFToken != "tok" || !sameInstant(got.CreatedAt, start) ||
			!sameInstant(got.LastActiveAt, later) || !sameInstant(got.ExpiresAt, expires) {
			t.Fatalf("after touch: %+v, %v", got, err)
		}
		if err := s.DeleteSession(ctx, "h1"); err != nil {
			t.Fatal(err)
		}
		if live, err := s.TouchSession(ctx, "h1", later, expires); err != nil || live {
			t.Fatalf("touch after delete: %v, %v; want gone", live, err)
		}
		if n := countRows(t, s, rawDB(t, s.URL()), `SELECT COUNT(*) FROM sessions`); n != 0 {
			t.Errorf("%d session rows after touching a deleted one, want 0", n)
		}
	})
}

func TestDeleteUserSessionsKeepsTheNamedOne(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice, bob := createUser(t, s, "alice"), createUser(t, s, "bob")
		now := time.Now().UTC()
		for _, r := range []struct {
			hash string
			user int64
		}{{"a1", alice.UserID}, {"a2", alice.UserID}, {"a3", alice.UserID}, {"b1", bob.UserID}} {
			if err := s.CreateSession(ctx, &models.Session{IDHash: r.hash, UserID: r.user, CSRFToken: "t", CreatedAt: now, LastActiveAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		ended, err := s.DeleteUserSessions(ctx, alice.UserID, "a2")
		slices.Sort(ended)
		if err != nil || !slices.Equal(ended, []string{"a1", "a3"}) {
			t.Fatalf("DeleteUserSessions = %v, %v; want [a1 a3]", ended, err)
		}
		for hash, live := range map[string]bool{"a1": false, "a2": true, "a3": false, "b1": true} {
			if _, err := s.SessionByHash(ctx, hash); (err == nil) != live {
				t.Errorf("session %s: %v, want live=%v", hash, err, live)
			}
		}
		if ended, err := s.DeleteUserSessions(ctx, alice.UserID, ""); err != nil || !slices.Equal(ended, []string{"a2"}) {
			t.Fatalf("DeleteUserSessions with no exception = %v, %v; want [a2]", ended, err)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	now := time.Now().UTC()
	east := time.FixedZone("UTC+5", 5*60*60)
	west := time.FixedZone("UTC-7", -7*60*60)
	tests := []struct {
		id        string
		expiresAt time.Time
		live      bool
	}{
		{"live", now.Add(time.Hour), true},
		{"live-soon-over", now.Add(5 * time.Second), true},
		{"expired", now.Add(-time.Second), false},
		{"long-expired", now.Add(-30 * 24 * time.Hour), false},
		// The instant counts, not the zone it was written in.
		{"expired-written-east", now.Add(-time.Hour).In(east), false},
		{"live-written-west", now.Add(time.Hour).In(west), true},
	}
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice := createUser(t, s, "alice")
		var live, expired int64
		for _, tc := range tests {
			sess := models.Session{IDHash: tc.id, UserID: alice.UserID, CSRFToken: "t", CreatedAt: now, LastActiveAt: now, ExpiresAt: tc.expiresAt}
			if err := s.CreateSession(ctx, &sess); err != nil {
				t.Fatal(err)
			}
			if tc.live {
				live++
			} else {
				expired++
			}
		}
		for _, tc := range tests {
			got, err := s.SessionByHash(ctx, tc.id)
			switch {
			case tc.live && (err != nil || got.IDHash != tc.id):
				t.Errorf("SessionByHash(%s): %+v, %v; want the session", tc.id, got, err)
			case !tc.live && !errors.Is(err, store.ErrNotFound):
				t.Errorf("SessionByHash(%s): %+v, %v; want ErrNotFound", tc.id, got, err)
			}
		}

		removed, err := s.DeleteExpiredSessions(ctx)
		if err != nil || int64(len(removed)) != expired {
			t.Errorf("DeleteExpiredSessions = %v, %v; want the %d expired ones", removed, err, expired)
		}
		for _, id := range removed {
			if !strings.Contains(id, "expired") {
				t.Errorf("DeleteExpiredSessions removed %s, which is live", id)
			}
		}
		if removed, err := s.DeleteExpiredSessions(ctx); err != nil || len(removed) != 0 {
			t.Errorf("second DeleteExpiredSessions = %v, %v; want none", removed, err)
		}
		if n := countRows(t, s, rawDB(t, s.URL()), `SELECT COUNT(*) FROM sessions`); n != live {
			t.Errorf("%d sessions left, want the %d live ones", n, live)
		}

		for _, tc := range tests {
			if !tc.live {
				continue
			}
			if err := s.DeleteSession(ctx, tc.id); err != nil {
				t.Errorf("DeleteSession(%s): %v", tc.id, err)
			}
			if _, err := s.SessionByHash(ctx, tc.id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("SessionByHash(%s) after delete: %v, want ErrNotFound", tc.id, err)
			}
		}
		if err := s.DeleteSession(ctx, "never-existed"); err != nil {
			t.Errorf("DeleteSession of a missing id: %v, want nil", err)
		}
		if _, err := s.SessionByHash(ctx, fmt.Sprintf("%s' OR '1'='1", "x")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SessionByID with quotes: %v, want ErrNotFound", err)
		}
	})
}
