package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to read the copy
)

// `messenger backup FILE` copies the SQLite database of a running server into a new private file that
// opens on its own and holds the messages; it never overwrites a file, and on PostgreSQL it points at
// pg_dump.
func TestBackupCommand(t *testing.T) {
	srv := startServer(t, "sqlite")
	alice, bob := newHTTPUser(t, srv), newHTTPUser(t, srv)
	alice.register("alice", "Alice", "")
	bob.register("bob", "Bob", "")
	alice.sendMessages("bob", "kept in the backup")

	dest := filepath.Join(t.TempDir(), "copy.db")
	code, stdout, stderr := runBinary(t, srv.dir, srv.env, "backup", dest)
	if code != 0 || !strings.Contains(stdout, dest) {
		t.Fatalf("backup: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the copy: %v, %v; want a file readable by its owner only", fi, err)
	}
	// The server keeps serving while and after the copy is made.
	alice.sendMessages("bob", "after the backup")

	db, err := sql.Open("sqlite", "file:"+dest+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var bodies []string
	rows, err := db.Query(`SELECT m.message_body FROM messages m JOIN users u ON u.user_id = m.sender_user_id
		WHERE u.username = 'alice' ORDER BY m.message_id`)
	if err != nil {
		t.Fatalf("read the copy: %v", err)
	}
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	if err := rows.Err(); err != nil || len(bodies) != 1 || bodies[0] != "kept in the backup" {
		t.Fatalf("messages in the copy: %q, %v; want the one sent before the backup", bodies, err)
	}

	before, _ := os.ReadFile(dest)
	if code, _, stderr := runBinary(t, srv.dir, srv.env, "backup", dest); code != 1 || !strings.Contains(stderr, "exists") {
		t.Fatalf("backup onto an existing file: exit %d, stderr %q; want a refusal", code, stderr)
	}
	if after, _ := os.ReadFile(dest); string(after) != string(before) {
		t.Fatal("a refused backup changed the existing file")
	}
	pg := cliEnv(t.TempDir(), "postgres://nobody@127.0.0.1:1/none")
	if code, _, stderr := runBinary(t, t.TempDir(), pg, "backup", filepath.Join(t.TempDir(), "x")); code != 1 || !strings.Contains(stderr, "pg_dump") {
		t.Fatalf("backup of PostgreSQL: exit %d, stderr %q; want a pointer to pg_dump", code, stderr)
	}
}
