package store_test

import (
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"messenger/models/store"
	"messenger/models/store/storetest"
)

func TestMigrations(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name    string
		between func(t *testing.T, s *store.Store, db *sql.DB) // runs after the first Open is closed
		wantErr string                                         // "" means the second Open succeeds
	}{
		{name: "reopening applies nothing again"},
		{
			name: "a schema newer than the binary is refused",
			between: func(t *testing.T, s *store.Store, db *sql.DB) {
				exec(t, s, db, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, ?)`, true)
			},
			wantErr: "newer",
		},
	}
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					url := storetest.URL(t, dialect)
					first, err := store.Open(t.Context(), url, quiet)
					if err != nil {
						t.Fatalf("first open: %v", err)
					}
					alice := createUser(t, first, "alice")
					db := rawDB(t, url)
					applied := countRows(t, first, db, `SELECT COUNT(*) FROM goose_db_version`)
					if err := first.Close(); err != nil {
						t.Fatal(err)
					}
					if tc.between != nil {
						tc.between(t, first, db)
					}

					second, err := store.Open(t.Context(), url, quiet)
					if tc.wantErr != "" {
						if err == nil {
							second.Close()
							t.Fatalf("second open succeeded, want an error mentioning %q", tc.wantErr)
						}
						if !strings.Contains(err.Error(), tc.wantErr) {
							t.Fatalf("second open: %v, want an error mentioning %q", err, tc.wantErr)
						}
						return
					}
					if err != nil {
						t.Fatalf("second open: %v", err)
					}
					defer second.Close()
					if got := countRows(t, second, db, `SELECT COUNT(*) FROM goose_db_version`); got != applied {
						t.Errorf("goose_db_version has %d rows after reopening, want %d", got, applied)
					}
					if got, err := second.UserByID(t.Context(), alice.UserID); err != nil || got.Username != "alice" {
						t.Errorf("user written before reopening: %+v, %v", got, err)
					}
					if _, err := second.UserByID(t.Context(), alice.UserID+1); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("unknown user after reopening: %v, want ErrNotFound", err)
					}
				})
			}
		})
	}
}
