package main

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// runBinary runs the built messenger with args in dir and the environment env, and returns its exit
// status and output.
func runBinary(t *testing.T, dir string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runBinaryInput(t, dir, env, "", args...)
}

// runBinaryInput is runBinary with stdin as the command's standard input.
func runBinaryInput(t *testing.T, dir string, env []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(serverBinary(t), args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, env, strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		t.Fatalf("run messenger %v: %v", args, err)
	}
	return 0, out.String(), errOut.String()
}

// -h or --help anywhere prints usage and exits 0 without starting a server or creating a file (no
// database, no session key file), whatever the environment says.
func TestHelpCreatesNothing(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"}, {"serve", "-h"}, {"serve", "--help"}, {"invite", "-h"},
		{"invite", "-expires", "1h", "--help"}, {"serve", "extra", "-h"}, {"migrate", "-h"}, {"version", "--help"},
		{"user", "create", "-h"}, {"user", "disable", "alice", "-h"}, {"user", "enable", "--help"}, {"user", "reset-password", "-h"}, {"user", "-h"},
		{"backup", "-h"}, {"backup", "copy.db", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := t.TempDir()
			code, stdout, stderr := runBinary(t, dir, []string{"ADDR=127.0.0.1:0", "PATH=" + os.Getenv("PATH")}, args...)
			if code != 0 || !strings.Contains(stdout, "Usage:") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and usage", code, stdout, stderr)
			}
			if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
				t.Fatalf("asking for help left %d files behind (%v)", len(entries), err)
			}
		})
	}
	code, _, stderr := runBinary(t, t.TempDir(), nil, "no-such-command")
	if code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Fatalf("an unknown command: exit %d, stderr %q; want 2 and a reason", code, stderr)
	}
}

var inviteLink = regexp.MustCompile(`^http://localhost:8080/register\?invite=([A-Za-z0-9_-]{20,})\n$`)

// `messenger invite` prints a link (at http://localhost:8080 with a note while BASE_URL is unset) whose
// token lets exactly one person register on a server with REGISTRATION=invite.
func TestInviteCommand(t *testing.T) {
	srv := startServer(t, "sqlite", "REGISTRATION=invite")
	code, stdout, stderr := runBinary(t, srv.dir, srv.env, "invite")
	m := inviteLink.FindStringSubmatch(stdout)
	if code != 0 || m == nil || !strings.Contains(stderr, "BASE_URL") {
		t.Fatalf("messenger invite: exit %d, stdout %q, stderr %q; want a link and a note about BASE_URL", code, stdout, stderr)
	}
	path := strings.TrimPrefix(strings.TrimSuffix(stdout, "\n"), "http://localhost:8080")
	register := func(u *httpUser, name string) int {
		t.Helper()
		if code, _ := u.get(path); code != http.StatusOK {
			return code
		}
		return u.post("/register", u.csrf(path), url.Values{"first_name": {"Invited"}, "username": {name},
			"password": {testPassword}, "invite": {m[1]}})
	}
	if code := register(newHTTPUser(t, srv), "invited"); code != http.StatusSeeOther {
		t.Fatalf("register through the invitation link: %d, want 303", code)
	}
	if code := register(newHTTPUser(t, srv), "latecomer"); code != http.StatusForbidden {
		t.Fatalf("a second registration through the same link: %d, want 403", code)
	}
}

// With BASE_URL set the invitation link uses it (a trailing slash or not); a REGISTRATION under which
// the link cannot work as meant is pointed out.
func TestInviteLinkUsesBaseURL(t *testing.T) {
	dir := t.TempDir()
	env := []string{"DATABASE_URL=sqlite:" + dir + "/messenger.db", "BASE_URL=https://chat.example.org/", "REGISTRATION=closed"}
	code, stdout, stderr := runBinary(t, dir, env, "invite", "-expires", "48h")
	if code != 0 || !strings.HasPrefix(stdout, "https://chat.example.org/register?invite=") || strings.Contains(stderr, "BASE_URL") ||
		!strings.Contains(stderr, "REGISTRATION is closed") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, _, stderr := runBinary(t, dir, env, "invite", "-expires", "-1h"); code == 0 || !strings.Contains(stderr, "-expires") {
		t.Fatalf("a negative -expires: exit %d, stderr %q; want a failure naming the flag", code, stderr)
	}
}
