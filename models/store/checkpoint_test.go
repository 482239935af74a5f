package store_test

import (
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"messenger/models"
	"messenger/models/store"
)

// storeWithMessages opens a store on a SQLite file of the test's own and has alice send bob n
// messages; it returns the store, the file's path and the two users.
func storeWithMessages(t *testing.T, n int) (s *store.Store, path string, alice, bob models.User) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "messenger.db")
	s, err := store.Open(t.Context(), "sqlite:"+path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	alice, bob = createUser(t, s, "alice"), createUser(t, s, "bob")
	for i := range n {
		send(t, s, alice, bob, fmt.Sprintf("message %d", i))
	}
	return s, path, alice, bob
}

// messagesInFileAlone counts the messages a copy of the database file holds without its WAL: what
// checkpoints have copied there.
func messagesInFileAlone(t *testing.T, path string) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	alone := filepath.Join(t.TempDir(), "alone.db")
	if err := os.WriteFile(alone, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+alone)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM sqlite_schema WHERE name = 'messages'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		return 0 // not even the schema is there yet
	}
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM messages").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A round of the checkpointer copies the whole WAL into the database file while the writer is idle,
// and the writer's next transaction then writes the WAL from its start again (it does not grow).
func TestCheckpointCopiesTheWALAndLetsItStartOver(t *testing.T) {
	s, path, alice, bob := storeWithMessages(t, 40)
	frames, copied, err := s.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if frames < 40 || copied != frames {
		t.Fatalf("after 40 sends: %d frames in the WAL, %d copied; want at least 40, all copied", frames, copied)
	}
	if n := messagesInFileAlone(t, path); n != 40 {
		t.Fatalf("the database file alone holds %d messages, want 40", n)
	}

	send(t, s, bob, alice, "one more")
	again, copiedAgain, err := s.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if again >= frames || copiedAgain != again {
		t.Fatalf("after one more send: %d frames (%d copied), want the WAL started over (fewer than %d), all copied", again, copiedAgain, frames)
	}
	if n := messagesInFileAlone(t, path); n != 41 {
		t.Fatalf("the database file alone holds %d messages, want 41", n)
	}
}

// The checkpointer runs by itself: what is sent reaches the database file without anyone asking.
func TestCheckpointerRunsInTheBackground(t *testing.T) {
	_, path, _, _ := storeWithMessages(t, 5)
	// Its interval is a second: wait for up to ten of them.
	deadline := time.Now().Add(10 * time.Second)
	for messagesInFileAlone(t, path) != 5 {
		if time.Now().After(deadline) {
			t.Fatal("after 10 s the database file alone still lacks the messages: the checkpointer did not run")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
