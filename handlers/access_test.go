package handlers

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"messenger/internal/logging"
	"messenger/internal/syncbuf"
)

// logLine is one JSON log line, the fields the access log writes.
type logLine struct {
	Level     string
	Msg       string
	RequestID string `json:"request_id"`
	Method    string
	Route     string
	Status    int
	Bytes     *int
	Duration  *int64
	UserID    int64 `json:"user_id"`
}

// jsonLines parses a JSON log, failing on a line that is not JSON.
func jsonLines(t *testing.T, log string) []logLine {
	t.Helper()
	var lines []logLine
	for _, raw := range strings.Split(strings.TrimSpace(log), "\n") {
		var l logLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("a log line is not JSON (%v): %q", err, raw)
		}
		lines = append(lines, l)
	}
	return lines
}

func (b *browser) cookieValues() []string {
	u, _ := url.Parse(b.ts.url)
	var values []string
	for _, c := range b.client.Jar.Cookies(u) {
		values = append(values, c.Value)
	}
	return values
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// The log of a whole visit (register, sign out, sign in, send, change the password, a socket) has one
// access line per request, with the route's pattern, the status, the request id the answer carried and
// the user; and nowhere a password, a session cookie, a CSRF token, the message's text or a username
// from a path.
func TestAccessLogKeepsNoSecret(t *testing.T) {
	var logs syncbuf.Buffer
	logger, err := logging.New(&logs, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, testOptions{logger: logger})
	bob := ts.signedUp("bob")
	bobSock := bob.socket().ready()

	a := ts.browser()
	secrets := []string{testPassword}
	if r := a.register("alice", testPassword); r.status != http.StatusSeeOther {
		t.Fatalf("register: %d", r.status)
	}
	secrets = append(secrets, a.cookieValues()...)
	if r := a.post("/", "/logout", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	if r := a.signIn("alice", testPassword); r.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.status)
	}
	secrets = append(secrets, a.cookieValues()...)
	secrets = append(secrets, a.token("/chat/bob"))
	const body = "the launch code is 0451-KESTREL"
	secrets = append(secrets, body)
	sent := a.send("bob", body, "")
	if sent.status != http.StatusSeeOther {
		t.Fatalf("send: %d", sent.status)
	}
	bobSock.waitFor(0, "KESTREL")
	const newPassword = "correct horse battery staple"
	secrets = append(secrets, newPassword)
	if r := a.post("/settings", "/settings/password", url.Values{"current_password": {testPassword}, "new_password": {newPassword}}); r.status != http.StatusSeeOther && r.status != http.StatusOK {
		t.Fatalf("change password: %d", r.status)
	}
	secrets = append(secrets, a.cookieValues()...)
	secrets = append(secrets, bob.cookieValues()...)

	sendID := sent.header.Get(HeaderRequestID)
	if !generatedID.MatchString(sendID) {
		t.Fatalf("the send's answer has request id %q, want 32 hex digits", sendID)
	}
	log := logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(log, s) {
			t.Errorf("the log holds a secret %q", s)
		}
	}
	if strings.Contains(log, "/chat/bob") {
		t.Error("the log holds a raw path with a username")
	}
	var found bool
	routes := map[string]bool{}
	for _, l := range jsonLines(t, log) {
		if l.Msg != "request" {
			continue
		}
		routes[l.Method+" "+l.Route] = true
		if l.Bytes == nil || l.Duration == nil || l.RequestID == "" || l.Level != "INFO" {
			t.Errorf("an access line lacks a field: %+v", l)
		}
		if l.RequestID == sendID {
			found = true
			alice := userNamed(t, ts, "alice")
			if l.Method != "POST" || l.Route != "/chat/:username/messages" || l.Status != http.StatusSeeOther || l.UserID != alice.UserID {
				t.Errorf("the send's access line: %+v; want POST /chat/:username/messages 303 by user %d", l, alice.UserID)
			}
		}
	}
	if !found {
		t.Errorf("no access line with the send's request id %s:\n%s", sendID, log)
	}
	for _, want := range []string{"POST /register", "POST /logout", "POST /login", "GET /chat/:username", "POST /settings/password", "GET /ws"} {
		if !routes[want] {
			t.Errorf("no access line for %s; routes logged: %v", want, routes)
		}
	}
}

// X-Request-Id is believed from a trusted proxy only, and only when it looks like an id; otherwise the
// server names the request itself. The answer and the log carry the same id.
func TestRequestIDFromTrustedProxiesOnly(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		sent    string
		kept    bool
	}{
		{"from a client", nil, "req-7f3a9c", false},
		{"from a trusted proxy", loopback, "req-7f3a9c", true},
		{"a UUID from a trusted proxy", loopback, "0b5f5a3e-8a2b-4c1d-9e0f-1a2b3c4d5e6f", true},
		{"a line break from a trusted proxy", loopback, "x level=ERROR msg=forged", false},
		{"too long from a trusted proxy", loopback, strings.Repeat("a", maxRequestID+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncbuf.Buffer
			ts := startServer(t, testOptions{log: &logs, trustedProxies: tc.trusted})
			r := ts.browser().do(http.MethodGet, "/login", nil, map[string]string{HeaderRequestID: tc.sent})
			got := r.header.Get(HeaderRequestID)
			switch {
			case tc.kept && got != tc.sent:
				t.Fatalf("answered with request id %q, want the proxy's %q", got, tc.sent)
			case !tc.kept && !generatedID.MatchString(got):
				t.Fatalf("answered with request id %q, want a new one", got)
			}
			if !strings.Contains(logs.String(), `msg=request request_id=`+got+` method=GET route=/login status=200`) {
				t.Fatalf("no access line with request id %s:\n%s", got, logs.String())
			}
		})
	}
}

// A page closing its socket (1001 going away, or the connection dropped) and a client resetting its
// connection in the middle of a request are ordinary: nothing at ERROR.
func TestOrdinaryGoodbyesAreNoErrors(t *testing.T) {
	var logs syncbuf.Buffer
	ts := startServer(t, testOptions{logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	a := ts.signedUp("alice")
	ts.signedUp("bob")
	for _, drop := range []func(s *liveSocket){
		func(s *liveSocket) {
			_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
		},
		func(s *liveSocket) { _ = s.conn.UnderlyingConn().Close() },
	} {
		s := a.socket().ready()
		s.sendJSON(`{"kind":"open","to":"bob","after":"0"}`)
		drop(s)
		<-s.closed
	}
	waitUntil(t, "the sockets closed", func() bool { return ts.srv.Hub().Count() == 0 })

	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	// The server answers 100 Continue once it has read the headers; then the body never comes.
	_, _ = conn.Write([]byte("POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"))
	if _, err := conn.Read(make([]byte, 64)); err != nil {
		t.Fatalf("no 100 Continue: %v", err)
	}
	_ = conn.(*net.TCPConn).SetLinger(0) // the close resets the connection
	_ = conn.Close()
	waitUntil(t, "the reset request logged", func() bool { return strings.Contains(logs.String(), `msg="request not read"`) })
	if log := logs.String(); strings.Contains(log, "level=ERROR") {
		t.Fatalf("an ordinary goodbye was logged as an error:\n%s", log)
	}
}

// waitUntil polls cond for up to 10 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
	}
}
