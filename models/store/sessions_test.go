package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"messenger/models"
	"messenger/models/store"
)

func sameInstant(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Microsecond && d < time.Microsecond // PostgreSQL keeps microseconds
}

func TestSaveSessionUpserts(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice := createUser(t, s, "alice")
		start := time.Now().UTC()
		versions := []models.Session{
			{SessionID: "sid", CSRFToken: "anonymous-token", CreatedAt: start, LastActiveAt: start, ExpiresAt: start.Add(time.Hour)},
			{SessionID: "sid", UserID: &alice.UserID, CSRFToken: "login-token", CreatedAt: start, LastActiveAt: start.Add(time.Minute), ExpiresAt: start.Add(2 * time.Hour)},
			{SessionID: "sid", CSRFToken: "logged-out-token", CreatedAt: start, LastActiveAt: start.Add(2 * time.Minute), ExpiresAt: start.Add(3 * time.Hour)},
		}
		for i, want := range versions {
			if err := s.SaveSession(t.Context(), &want); err != nil {
				t.Fatalf("save %d: %v", i, err)
			}
			got, err := s.SessionByID(t.Context(), "sid")
			if err != nil {
				t.Fatalf("load %d: %v", i, err)
			}
			if got.SessionID != want.SessionID || got.CSRFToken != want.CSRFToken ||
				(got.UserID == nil) != (want.UserID == nil) || (got.UserID != nil && *got.UserID != *want.UserID) ||
				!sameInstant(got.CreatedAt, want.CreatedAt) || !sameInstant(got.LastActiveAt, want.LastActiveAt) ||
				!sameInstant(got.ExpiresAt, want.ExpiresAt) {
				t.Errorf("save %d: loaded %+v, want %+v", i, got, want)
			}
		}
		if n := countRows(t, s, rawDB(t, s.URL()), `SELECT COUNT(*) FROM sessions`); n != 1 {
			t.Errorf("%d session rows, want 1", n)
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
		var live, expired int64
		for _, tc := range tests {
			sess := models.Session{SessionID: tc.id, CSRFToken: "t", CreatedAt: now, LastActiveAt: now, ExpiresAt: tc.expiresAt}
			if err := s.SaveSession(ctx, &sess); err != nil {
				t.Fatal(err)
			}
			if tc.live {
				live++
			} else {
				expired++
			}
		}
		for _, tc := range tests {
			got, err := s.SessionByID(ctx, tc.id)
			switch {
			case tc.live && (err != nil || got.SessionID != tc.id):
				t.Errorf("SessionByID(%s): %+v, %v; want the session", tc.id, got, err)
			case !tc.live && !errors.Is(err, store.ErrNotFound):
				t.Errorf("SessionByID(%s): %+v, %v; want ErrNotFound", tc.id, got, err)
			}
		}

		removed, err := s.DeleteExpiredSessions(ctx)
		if err != nil || removed != expired {
			t.Errorf("DeleteExpiredSessions = %d, %v; want %d", removed, err, expired)
		}
		if removed, err := s.DeleteExpiredSessions(ctx); err != nil || removed != 0 {
			t.Errorf("second DeleteExpiredSessions = %d, %v; want 0", removed, err)
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
			if _, err := s.SessionByID(ctx, tc.id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("SessionByID(%s) after delete: %v, want ErrNotFound", tc.id, err)
			}
		}
		if err := s.DeleteSession(ctx, "never-existed"); err != nil {
			t.Errorf("DeleteSession of a missing id: %v, want nil", err)
		}
		if _, err := s.SessionByID(ctx, fmt.Sprintf("%s' OR '1'='1", "x")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SessionByID with quotes: %v, want ErrNotFound", err)
		}
	})
}
