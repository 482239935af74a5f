package store_test

import (
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" (storetest registers it as well)
	_ "modernc.org/sqlite"             // database/sql driver "sqlite" for the raw handle

	"messenger/migrations"
	"messenger/models"
	"messenger/models/store"
	"messenger/models/store/storetest"
)

// eachDialect runs fn once per dialect on a fresh migrated store, the dialects side by side.
func eachDialect(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			fn(t, storetest.Open(t, dialect))
		})
	}
}

// rawDB opens a second, plain database/sql handle on the store's database, for what the store does
// not offer: planting rows, ageing timestamps, EXPLAIN.
func rawDB(tb testing.TB, databaseURL string) *sql.DB {
	tb.Helper()
	target, err := store.ParseURL(databaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	var db *sql.DB
	if target.Dialect == migrations.SQLite {
		// The same time format as the store, so timestamps written here compare correctly with its own.
		db, err = sql.Open("sqlite", "file:"+target.DSN+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_time_format=sqlite")
	} else {
		db, err = sql.Open("pgx", target.DSN)
	}
	if err != nil {
		tb.Fatalf("open raw %s handle: %v", target.Dialect, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var rebind = store.Rebind

func exec(tb testing.TB, s *store.Store, db *sql.DB, query string, args ...any) sql.Result {
	tb.Helper()
	res, err := db.ExecContext(tb.Context(), rebind(s.Dialect(), query), args...)
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return res
}

func countRows(tb testing.TB, s *store.Store, db *sql.DB, query string, args ...any) int64 {
	tb.Helper()
	var n int64
	if err := db.QueryRowContext(tb.Context(), rebind(s.Dialect(), query), args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

func createUser(tb testing.TB, s *store.Store, username string) models.User {
	tb.Helper()
	u := models.User{FirstName: "First", LastName: "Last", Username: username, Password: "argon2id-hash"}
	if err := s.CreateUser(tb.Context(), &u); err != nil {
		tb.Fatalf("create user %q: %v", username, err)
	}
	return u
}

func send(tb testing.TB, s *store.Store, from, to models.User, body string) models.ExtendedMessage {
	tb.Helper()
	m, created, err := s.SendMessage(tb.Context(), store.SendInput{SenderID: from.UserID, RecipientID: to.UserID, Body: body})
	if err != nil || !created {
		tb.Fatalf("send %q from %s to %s: created=%v err=%v", body, from.Username, to.Username, created, err)
	}
	return m
}

func conversation(tb testing.TB, s *store.Store, a, b models.User) models.Conversation {
	tb.Helper()
	c, err := s.ConversationBetween(tb.Context(), a.UserID, b.UserID)
	if err != nil {
		tb.Fatalf("conversation between %s and %s: %v", a.Username, b.Username, err)
	}
	return c
}
