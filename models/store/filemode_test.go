package store_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"messenger/models/store"
)

// The SQLite database holds password hashes and private messages: it and its -wal and -shm files are
// created readable by their owner only, whatever the umask allows.
func TestSQLiteFilesCreatedPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "private.db")
	s, err := store.Open(t.Context(), "sqlite:"+path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	createUser(t, s, "alice") // a write, so the WAL exists
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s created %o, want 600", filepath.Base(name), mode)
		}
	}
}
