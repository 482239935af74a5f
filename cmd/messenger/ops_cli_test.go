package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"messenger/models/store/storetest"
)

// cliEnv is the environment of an administration command run against databaseURL from dir.
func cliEnv(dir, databaseURL string) []string {
	return []string{"DATABASE_URL=" + databaseURL, "SESSION_KEY_FILE=" + filepath.Join(dir, "session.key"), "PATH=" + os.Getenv("PATH")}
}

var appliedRE = regexp.MustCompile(`^Applied (\d{5}(, \d{5})*); the (sqlite|postgres) schema is at version (\d+)\.\n$`)

// `messenger migrate` applies every migration to a new database and says which; a second run has
// nothing to apply and says the same version.
func TestMigrateCommand(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			dir := t.TempDir()
			env := cliEnv(dir, storetest.URL(t, dialect))
			code, stdout, stderr := runBinary(t, dir, env, "migrate")
			m := appliedRE.FindStringSubmatch(stdout)
			if code != 0 || m == nil || !strings.HasPrefix(m[1], "00001, ") || m[3] != dialect {
				t.Fatalf("first migrate: exit %d, stdout %q, stderr %q; want every migration listed", code, stdout, stderr)
			}
			code, stdout, stderr = runBinary(t, dir, env, "migrate")
			want := "Nothing to apply: the " + dialect + " schema is at version " + m[4] + ".\n"
			if code != 0 || stdout != want {
				t.Fatalf("second migrate: exit %d, stdout %q, stderr %q; want %q", code, stdout, stderr, want)
			}
		})
	}
}

// `messenger version` prints the module version and the Go release, and says when the build recorded
// no VCS revision (go run, or GOFLAGS=-buildvcs=false as on this machine).
func TestVersionCommand(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runBinary(t, dir, nil, "version")
	if code != 0 || !regexp.MustCompile(`^messenger \S+\nrevision  \S+.*\n(time .*\nmodified  (true|false)\n)?go        go1\.`).MatchString(stdout) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("version left %d files behind", len(entries))
	}
	if code, _, stderr := runBinary(t, dir, nil, "version", "extra"); code != 2 || !strings.Contains(stderr, `unexpected argument "extra"`) {
		t.Fatalf("version with an argument: exit %d, stderr %q; want 2 and the argument named", code, stderr)
	}

	var out bytes.Buffer
	writeVersion(&out, &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "3eae62c91c81778c5ed3bfd5644d931263ce88aa"},
		{Key: "vcs.time", Value: "2026-12-02T14:00:03Z"}, {Key: "vcs.modified", Value: "true"},
	}})
	for _, want := range []string{"messenger v1.2.3\n", "revision  3eae62c91c81778c5ed3bfd5644d931263ce88aa\n",
		"time      2026-12-02T14:00:03Z\n", "modified  true\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version of a stamped build: %q lacks %q", out.String(), want)
		}
	}
}

// With DATABASE_URL, SESSION_KEY_FILE and ATTACHMENTS_DIR unset, the server keeps its database, its
// session key and attachments in DATA_DIR, created 0700 when missing, and writes nothing to its
// working directory; the administration commands find the same database there.
func TestDataDir(t *testing.T) {
	data := filepath.Join(t.TempDir(), "var", "lib", "messenger")
	srv := startServer(t, "sqlite", "DATABASE_URL=", "SESSION_KEY_FILE=", "DATA_DIR="+data)
	newHTTPUser(t, srv).register("alice", "Alice", "")
	fi, err := os.Stat(data)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("DATA_DIR: %v, %v; want a directory made with mode 0700", fi, err)
	}
	for _, name := range []string{"messenger.db", ".messenger-session-key", "attachments"} {
		if _, err := os.Stat(filepath.Join(data, name)); err != nil {
			t.Errorf("%s is not in DATA_DIR: %v", name, err)
		}
	}
	if entries, _ := os.ReadDir(srv.dir); len(entries) != 0 {
		t.Errorf("the server wrote %d files to its working directory", len(entries))
	}
	code, stdout, stderr := runBinaryInput(t, srv.dir, srv.env, testPassword+"\n", "user", "create", "bob")
	if code != 0 {
		t.Fatalf("user create with DATA_DIR: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	bob := newHTTPUser(t, srv)
	if code, _ := bob.signIn("bob", testPassword); code != http.StatusSeeOther {
		t.Fatalf("bob, created in DATA_DIR's database by the command, signs in to the server: %d, want 303", code)
	}
}
