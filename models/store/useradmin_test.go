package store_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"messenger/migrations"
	"messenger/models"
	"messenger/models/store"
	"messenger/models/store/storetest"
)

func plantSession(tb testing.TB, s *store.Store, hash string, userID int64) {
	tb.Helper()
	t := time.Now().UTC()
	sess := models.Session{IDHash: hash, UserID: userID, CSRFToken: "t", CreatedAt: t, LastActiveAt: t, ExpiresAt: t.Add(time.Hour)}
	if err := s.CreateSession(tb.Context(), &sess); err != nil {
		tb.Fatalf("create session %s: %v", hash, err)
	}
}

func contactNames(tb testing.TB, s *store.Store, viewer models.User) []string {
	tb.Helper()
	list, err := s.Contacts(tb.Context(), viewer.UserID)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, c := range list {
		names = append(names, c.Username)
	}
	return names
}

// Disabling a user ends their sessions (every instance refuses them at once; the sweeper deletes
// them), on PostgreSQL announces it in the same transaction, hides them from those who never wrote
// to them, and enabling lets them back.
func TestDisableAndEnableUser(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		send(t, s, carol, alice, "hello")
		plantSession(t, s, "alice-1", alice.UserID)
		plantSession(t, s, "alice-2", alice.UserID)
		plantSession(t, s, "bob-1", bob.UserID)

		var listener *pgx.Conn
		if s.Dialect() == migrations.Postgres {
			var err error
			if listener, err = pgx.Connect(ctx, s.URL()); err != nil {
				t.Fatal(err)
			}
			defer listener.Close(context.Background())
			if _, err := listener.Exec(ctx, "LISTEN test_sessions"); err != nil {
				t.Fatal(err)
			}
		}
		var told []string
		notify := func(hashes []string) (string, []string) {
			told = append(told, hashes...)
			return "test_sessions", []string{"ended"}
		}
		ended, err := s.DisableUser(ctx, alice.UserID, notify)
		slices.Sort(ended)
		if err != nil || !slices.Equal(ended, []string{"alice-1", "alice-2"}) {
			t.Fatalf("disable: ended %v, %v; want alice's two sessions", ended, err)
		}
		if listener != nil {
			waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			n, err := listener.WaitForNotification(waitCtx)
			if err != nil || n.Payload != "ended" || len(told) != 2 {
				t.Fatalf("notification: %v, %v (told %v); want the payload committed with the change", n, err, told)
			}
		} else if told != nil {
			t.Fatalf("SQLite has no one to notify, yet notify was called with %v", told)
		}
		for _, h := range []string{"alice-1", "alice-2"} {
			if _, err := s.SessionByHash(ctx, h); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("session %s after disabling: %v; want it refused at once", h, err)
			}
		}
		if _, err := s.SessionByHash(ctx, "bob-1"); err != nil {
			t.Errorf("another user's session: %v", err)
		}
		swept, err := s.DeleteExpiredSessions(ctx)
		slices.Sort(swept)
		if err != nil || !slices.Equal(swept, []string{"alice-1", "alice-2"}) {
			t.Fatalf("sweep: %v, %v; want alice's two sessions for their sockets to close", swept, err)
		}
		if u, err := s.UserByID(ctx, alice.UserID); err != nil || u.DisabledAt == nil {
			t.Fatalf("alice after disabling: %+v, %v", u, err)
		}
		if got := contactNames(t, s, bob); !slices.Equal(got, []string{"carol"}) {
			t.Errorf("bob's list with alice disabled: %v; want only carol", got)
		}
		if got := contactNames(t, s, carol); !slices.Equal(got, []string{"alice", "bob"}) {
			t.Errorf("carol's list with alice disabled: %v; want alice kept (their conversation) and bob", got)
		}

		if err := s.EnableUser(ctx, alice.UserID); err != nil {
			t.Fatal(err)
		}
		if u, err := s.UserByID(ctx, alice.UserID); err != nil || u.DisabledAt != nil {
			t.Fatalf("alice after enabling: %+v, %v", u, err)
		}
		if got := contactNames(t, s, bob); !slices.Equal(got, []string{"alice", "carol"}) {
			t.Errorf("bob's list with alice enabled: %v", got)
		}
		if err := s.EnableUser(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("enable an unknown user: %v; want ErrNotFound", err)
		}
		if _, err := s.DisableUser(ctx, 1<<40, notify); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("disable an unknown user: %v; want ErrNotFound", err)
		}
	})
}

// A reset password replaces the hash and ends every session of the user.
func TestResetPassword(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice := createUser(t, s, "alice")
		plantSession(t, s, "alice-1", alice.UserID)
		ended, err := s.ResetPassword(ctx, alice.UserID, "new-hash", nil)
		if err != nil || !slices.Equal(ended, []string{"alice-1"}) {
			t.Fatalf("reset: %v, %v", ended, err)
		}
		if u, err := s.UserByID(ctx, alice.UserID); err != nil || u.Password != "new-hash" || u.DisabledAt != nil {
			t.Fatalf("alice after the reset: %+v, %v", u, err)
		}
		if _, err := s.SessionByHash(ctx, "alice-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session after the reset: %v; want it refused", err)
		}
	})
}

// A server learns that another process (an administration command) ended sessions: SessionsExpired
// sees the expired rows, however soon after the server opened the database the command ran, and no
// longer once they are swept.
func TestSessionsExpired(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			url := storetest.URL(t, dialect)
			open := func() *store.Store {
				s, err := store.Open(t.Context(), url, slog.New(slog.NewTextHandler(io.Discard, nil)))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			server := open()
			expired := func() bool {
				t.Helper()
				e, err := server.SessionsExpired(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				return e
			}
			alice := createUser(t, server, "alice")
			plantSession(t, server, "alice-1", alice.UserID)
			if expired() {
				t.Fatal("a live session counted as expired")
			}
			if _, err := open().DisableUser(t.Context(), alice.UserID, nil); err != nil {
				t.Fatal(err)
			}
			if !expired() {
				t.Fatal("the sessions another process ended went unnoticed")
			}
			if gone, err := server.DeleteExpiredSessions(t.Context()); err != nil || len(gone) != 1 {
				t.Fatalf("DeleteExpiredSessions = %v, %v; want alice's one session", gone, err)
			}
			if expired() {
				t.Fatal("still expired after the sweep")
			}
		})
	}
}
