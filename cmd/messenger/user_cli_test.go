package main

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// signIn posts the login form and returns the status and the page.
func (u *httpUser) signIn(username, password string) (int, string) {
	u.t.Helper()
	return u.postPage("/login", u.csrf("/login"), url.Values{"username": {username}, "password": {password}})
}

// openSocket opens the user's WebSocket as a page would.
func (u *httpUser) openSocket() *websocket.Conn {
	u.t.Helper()
	base, _ := url.Parse(u.srv.URL)
	header := http.Header{"Origin": {u.srv.URL}}
	for _, c := range u.client.Jar.Cookies(base) {
		header.Add("Cookie", c.Name+"="+c.Value)
	}
	conn, resp, err := websocket.DefaultDialer.Dial("ws://"+base.Host+"/ws", header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		u.t.Fatalf("open the socket: %v (status %d)", err, status)
	}
	u.t.Cleanup(func() { conn.Close() })
	return conn
}

// readUntil reads the socket until a frame holds want.
func readUntil(t *testing.T, conn *websocket.Conn, want string) {
	t.Helper()
	// A bound on a wait that should end within a second or two, not a measurement.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, frame, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("no frame with %s: %v", want, err)
		}
		if strings.Contains(string(frame), want) {
			return
		}
	}
}

// closeCode reads the socket until the server closes it and returns the close code.
func closeCode(t *testing.T, conn *websocket.Conn) int {
	t.Helper()
	// A bound on a wait that should end at once, not a measurement: a socket left open fails here.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		t.Fatalf("the socket was not closed by the server: %v", err)
	}
}

// The user commands against a running server: create an account from the shell, disable it (its open
// socket closes at once, it cannot sign in, others are not offered it), enable it, reset its password
// (its session ends, the old password is refused).
func TestUserCommands(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			srv := startServer(t, dialect)
			run := func(stdin string, args ...string) (int, string, string) {
				t.Helper()
				return runBinaryInput(t, srv.dir, srv.env, stdin, args...)
			}
			for _, bad := range []struct{ stdin, username, why string }{
				{"password\n", "alice", "too easy to guess"},
				{"short\n", "alice", "at least 8"},
				{"", "alice", "no password"},
				{testPassword + "\n", "al ice", "Username may contain"},
			} {
				if code, _, stderr := run(bad.stdin, "user", "create", bad.username); code != 1 || !strings.Contains(stderr, bad.why) {
					t.Errorf("user create %q with %q: exit %d, stderr %q; want 1 and %q", bad.username, bad.stdin, code, stderr, bad.why)
				}
			}
			code, stdout, stderr := run(testPassword+"\n", "user", "create", "-first-name", "Alice", "alice")
			if code != 0 || !strings.HasPrefix(stdout, "Created alice") {
				t.Fatalf("user create: exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			if code, _, stderr := run(testPassword+"\n", "user", "create", "ALICE"); code != 1 || !strings.Contains(stderr, "taken") {
				t.Fatalf("user create of a taken name: exit %d, stderr %q", code, stderr)
			}
			bob := newHTTPUser(t, srv)
			bob.register("bob", "Bob", "")
			if _, page := bob.get("/"); !strings.Contains(page, `data-user="alice"`) {
				t.Fatal("bob's list does not offer alice, created from the shell")
			}
			// A user created while bob's page is open appears in his list at once, as one who registers.
			bobSocket := bob.openSocket()
			if code, _, stderr := run(testPassword+"\n", "user", "create", "carol"); code != 0 {
				t.Fatalf("user create carol: exit %d, stderr %q", code, stderr)
			}
			readUntil(t, bobSocket, `data-user="carol"`)

			alice := newHTTPUser(t, srv)
			if code, _ := alice.signIn("alice", testPassword); code != http.StatusSeeOther {
				t.Fatalf("alice signs in with the password given on stdin: %d, want 303", code)
			}
			socket := alice.openSocket()
			code, stdout, stderr = run("", "user", "disable", "alice")
			if code != 0 || !strings.Contains(stdout, "Disabled alice: 1 session(s) ended") {
				t.Fatalf("user disable: exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			if got := closeCode(t, socket); got != websocket.ClosePolicyViolation {
				t.Fatalf("alice's open socket closed with %d, want 1008", got)
			}
			if code, _ := alice.get("/"); code != http.StatusSeeOther {
				t.Fatalf("alice's ended session: GET / answered %d, want a redirect to sign in", code)
			}
			if code, page := newHTTPUser(t, srv).signIn("alice", testPassword); code != http.StatusForbidden || !strings.Contains(page, "disabled") {
				t.Fatalf("a disabled user signs in: %d; want 403 saying the account is disabled", code)
			}
			if code, page := newHTTPUser(t, srv).signIn("alice", "wrong password!"); code != http.StatusUnauthorized || strings.Contains(page, "disabled") {
				t.Fatalf("a wrong password for a disabled user: %d; want 401 that tells nothing about the account", code)
			}
			if _, page := bob.get("/"); strings.Contains(page, `data-user="alice"`) {
				t.Fatal("bob, who never wrote to alice, is still offered her while she is disabled")
			}

			if code, stdout, stderr := run("", "user", "enable", "alice"); code != 0 || !strings.HasPrefix(stdout, "Enabled alice") {
				t.Fatalf("user enable: exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			alice = newHTTPUser(t, srv)
			if code, _ := alice.signIn("alice", testPassword); code != http.StatusSeeOther {
				t.Fatalf("alice signs in once enabled: %d, want 303", code)
			}
			socket = alice.openSocket()

			const newPassword = "a new and longer passphrase"
			code, stdout, stderr = run(newPassword+"\n", "user", "reset-password", "alice")
			if code != 0 || !strings.Contains(stdout, "1 session(s) ended") {
				t.Fatalf("user reset-password: exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			if got := closeCode(t, socket); got != websocket.ClosePolicyViolation {
				t.Fatalf("alice's socket after the reset closed with %d, want 1008", got)
			}
			if code, _ := newHTTPUser(t, srv).signIn("alice", testPassword); code != http.StatusUnauthorized {
				t.Fatalf("the old password after the reset: %d, want 401", code)
			}
			if code, _ := newHTTPUser(t, srv).signIn("alice", newPassword); code != http.StatusSeeOther {
				t.Fatalf("the new password: %d, want 303", code)
			}
			if code, _, stderr := run("", "user", "disable", "nobody"); code != 1 || !strings.Contains(stderr, `no user is called "nobody"`) {
				t.Fatalf("disable an unknown user: exit %d, stderr %q", code, stderr)
			}
		})
	}
}
