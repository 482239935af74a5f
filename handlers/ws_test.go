package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"messenger/handlers/realtime"
)

// liveSocket is a client socket whose frames are collected by one reader goroutine.
type liveSocket struct {
	t      testing.TB
	conn   *websocket.Conn
	mu     sync.Mutex
	frames []string
	closed chan struct{}
	err    error
}

func (b *browser) dialWS(headers map[string]string) (*websocket.Conn, *http.Response, error) {
	return b.dialWSWith(websocket.DefaultDialer, headers)
}

// dialWSWith dials the socket with dialer (its own TCP connection: through a proxy, with small
// buffers), carrying this browser's cookies and the site's Origin.
func (b *browser) dialWSWith(dialer *websocket.Dialer, headers map[string]string) (*websocket.Conn, *http.Response, error) {
	u, _ := url.Parse(b.ts.url)
	h := http.Header{"Origin": {b.ts.url}}
	var cookies []string
	for _, c := range b.client.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	if len(cookies) > 0 {
		h.Set("Cookie", strings.Join(cookies, "; "))
	}
	for k, v := range headers {
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
	}
	return dialer.Dial("ws"+strings.TrimPrefix(b.ts.url, "http")+"/ws", h)
}

func (b *browser) socket() *liveSocket {
	b.t.Helper()
	return b.socketWith(nil)
}

// socketWith is socket with extra upgrade request headers.
func (b *browser) socketWith(headers map[string]string) *liveSocket {
	b.t.Helper()
	conn, resp, err := b.dialWS(headers)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		b.t.Fatalf("dial /ws: %v (status %d)", err, status)
	}
	s := &liveSocket{t: b.t, conn: conn, closed: make(chan struct{})}
	go func() {
		defer close(s.closed)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
				return
			}
			s.mu.Lock()
			s.frames = append(s.frames, string(data))
			s.mu.Unlock()
		}
	}()
	b.t.Cleanup(func() { conn.Close() })
	return s
}

// ready returns once the server has registered the socket (a dial returns as soon as the upgrade is
// answered, before the hub knows the socket): the "close" frame is answered with the users list.
func (s *liveSocket) ready() *liveSocket {
	s.t.Helper()
	from := len(s.snapshot())
	s.sendJSON(`{"kind":"close"}`)
	s.waitFor(from, `<ul id="user-list"`)
	return s
}

func (s *liveSocket) sendJSON(text string) {
	s.t.Helper()
	if err := s.conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		s.t.Fatalf("write frame: %v", err)
	}
}

// waitFor returns the first frame (from index from on) containing every want, or fails.
func (s *liveSocket) waitFor(from int, want ...string) (string, int) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		frames := append([]string(nil), s.frames...)
		err := s.err
		s.mu.Unlock()
		for i := from; i < len(frames); i++ {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(frames[i], w)
			}
			if ok {
				return frames[i], i + 1
			}
		}
		if err != nil {
			s.t.Fatalf("socket closed (%v) before a frame with %q; got %d frames", err, want, len(frames))
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("no frame with %q within 10s; frames: %q", want, s.snapshot())
	return "", 0
}

func (s *liveSocket) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.frames...)
}

// closeCode waits for the server to close the socket and returns the close code.
func (s *liveSocket) closeCode() int {
	s.t.Helper()
	select {
	case <-s.closed:
	case <-time.After(10 * time.Second):
		s.t.Fatal("socket not closed within 10s")
	}
	var ce *websocket.CloseError
	if errors.As(s.err, &ce) {
		return ce.Code
	}
	return -1
}

func TestSocketAdmission(t *testing.T) {
	ts := startServer(t, testOptions{})
	a := ts.signedUp("alice")
	cases := []struct {
		name    string
		b       *browser
		headers map[string]string
		status  int
	}{
		{"no session", ts.browser(), nil, http.StatusUnauthorized},
		{"foreign origin", a, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"lookalike origin", a, map[string]string{"Origin": ts.url + ".evil.example"}, http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, resp, err := c.b.dialWS(c.headers)
			if err == nil || resp == nil || resp.StatusCode != c.status {
				st := 0
				if resp != nil {
					st = resp.StatusCode
				}
				t.Fatalf("dial: err %v, status %d, want %d", err, st, c.status)
			}
		})
	}
	if ts.srv.Hub().Count() != 0 {
		t.Fatal("a refused socket was registered")
	}
	if r := a.get("/ws"); r.status != http.StatusUpgradeRequired {
		t.Fatalf("plain GET /ws: %d", r.status)
	}
}

func TestLogoutClosesSocketsAndRefusesTheCookie(t *testing.T) {
	ts := startServer(t, testOptions{})
	a := ts.signedUp("alice")
	sock := a.socket().ready()
	u, _ := url.Parse(ts.url)
	old := a.client.Jar.Cookies(u)
	a.post("/", "/logout", url.Values{})
	if code := sock.closeCode(); code != websocket.ClosePolicyViolation {
		t.Fatalf("socket of the ended session closed with %d", code)
	}
	replay := ts.browser()
	replay.client.Jar.SetCookies(u, old)
	if _, resp, err := replay.dialWS(nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("upgrade with a logged-out cookie: %v", err)
	}
}

func TestSocketSendAndLiveDelivery(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		a, b := ts.signedUp("alice"), ts.signedUp("bob")
		a1, a2, bs := a.socket().ready(), a.socket().ready(), b.socket().ready()
		a1.sendJSON(`{"to":"bob","body":"over the socket","client_id":"sock-1","from":"bob","sender_user_id":2,"HEADERS":{"HX-Request":"true"}}`)
		for _, s := range []*liveSocket{a1, a2, bs} {
			frame, _ := s.waitFor(0, `data-client-id="sock-1"`, "over the socket")
			if !strings.Contains(frame, `data-sender="alice"`) || !strings.Contains(frame, `data-message-id="`) {
				t.Fatalf("fragment without the sender or id: %s", frame)
			}
			if !strings.Contains(frame, `hx-swap-oob="beforeend:#live-`) {
				t.Fatalf("fragment is not an out-of-band append: %s", frame)
			}
		}
		// Bob's row for alice moves to the top of his list with the new unread count.
		bRow, _ := bs.waitFor(0, `hx-swap-oob="afterbegin:#user-list"`, `data-user="alice"`)
		if unreadCounts(bRow)["alice"] != "1" || !strings.Contains(bRow, `<li id="user-1" hx-swap-oob="delete">`) {
			t.Fatalf("bob's row over the socket: %s", bRow)
		}
		// The same client id over POST is the same message.
		a.send("bob", "over the socket", "sock-1")
		if ids := messageIDs(b.get("/chat/alice").body); len(ids) != 1 {
			t.Fatalf("stored %d messages for one client id", len(ids))
		}
	})
}

func TestSocketBadFrames(t *testing.T) {
	ts := startServer(t, testOptions{})
	a := ts.signedUp("alice")
	ts.signedUp("bob")
	s := a.socket()
	cases := []struct{ frame, alert string }{
		{`{not json`, "could not read"},
		{`{"body":"to nobody"}`, "who the message is for"},
		{`{"to":"bob"}`, "no text"},
		{`{"to":"bob","body":"   "}`, "Write a message"},
		{`{"to":"ghost","body":"hello"}`, "no user"},
		{`{"to":"bob","body":"x","kind":"explode"}`, "does not know"},
		{`{"to":"bob","kind":"open","after":"-1"}`, "not valid"},
		{`[1,2,3]`, "could not read"},
	}
	next := 0
	for _, c := range cases {
		s.sendJSON(c.frame)
		var frame string
		frame, next = s.waitFor(next, `role="alert"`)
		if !strings.Contains(frame, c.alert) || !strings.Contains(frame, `id="socket-error"`) {
			t.Fatalf("frame %s: alert %q, want %q", c.frame, frame, c.alert)
		}
	}
	s.sendJSON(`{"to":"bob","body":"still usable"}`)
	s.waitFor(next, "still usable")
	if n := unreadFor(t, ts, "alice", "bob"); n != 1 {
		t.Fatalf("%d messages stored, want only the valid one", n)
	}
}

func TestSocketProtocolViolationsClose(t *testing.T) {
	ts := startServer(t, testOptions{})
	a := ts.signedUp("alice")
	ts.signedUp("bob")
	big := a.socket()
	huge := fmt.Sprintf(`{"to":"bob","body":"%s"}`, strings.Repeat("x", 1<<20))
	_ = big.conn.WriteMessage(websocket.TextMessage, []byte(huge))
	if code := big.closeCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("1 MB frame closed with %d, want 1009", code)
	}
	bad := a.socket()
	bad.sendJSON("{\"to\":\"bob\",\"body\":\"\xff\xfe\"}")
	if code := bad.closeCode(); code != websocket.CloseInvalidFramePayloadData {
		t.Fatalf("invalid UTF-8 closed with %d, want 1007", code)
	}
	if n := unreadFor(t, ts, "alice", "bob"); n != 0 {
		t.Fatalf("%d messages stored from bad frames", n)
	}
}

func TestCatchUpAfterReconnect(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		a, b := ts.signedUp("alice"), ts.signedUp("bob")
		a.send("bob", "before the page", "")
		page := b.get("/chat/alice").body
		seen := messageIDs(page)
		// Bob's page is rendered; his socket is away while alice writes three more.
		for i := 1; i <= 3; i++ {
			a.send("bob", fmt.Sprintf("while away %d", i), "")
		}
		s := b.socket()
		s.sendJSON(`{"kind":"open","to":"alice","after":"1","HEADERS":{}}`)
		frame, _ := s.waitFor(0, `hx-swap-oob="true"`, "while away 3")
		frame = frame[:strings.Index(frame, `<ul id="user-list"`)] // the live area; the list previews the last one too
		for i := 1; i <= 3; i++ {
			if strings.Count(frame, fmt.Sprintf("while away %d", i)) != 1 {
				t.Fatalf("catch-up does not hold message %d exactly once: %s", i, frame)
			}
		}
		if strings.Contains(frame, "before the page") || len(seen) != 1 {
			t.Fatal("catch-up repeats what the page had")
		}
		if a, b := strings.Index(frame, "while away 1"), strings.Index(frame, "while away 3"); a > b {
			t.Fatal("catch-up out of order")
		}
		// A page that is open and visible reads what arrives.
		if got := unreadCounts(b.get("/").body)["alice"]; got != "0" {
			t.Fatalf("unread after catch-up into an open conversation: %s", got)
		}
	})
}

func TestPresenceGoesLive(t *testing.T) {
	ts := startServer(t, testOptions{})
	a, b := ts.signedUp("alice"), ts.signedUp("bob")
	// The active window of plain page use would keep bob online; end it so only his socket counts.
	bobUser, _ := ts.store.UserByUsername(t.Context(), "bob")
	if err := ts.store.SignOffUser(t.Context(), bobUser.UserID); err != nil {
		t.Fatal(err)
	}
	watcher := a.socket().ready()
	if list := watcher.snapshot()[0]; !strings.Contains(list, `data-user="bob" data-online="false"`) {
		t.Fatalf("bob is online before his socket opened: %s", list)
	}
	from := len(watcher.snapshot())
	bobSock := b.socket()
	// One fragment for every viewer: bob's dots (row and conversation header) and his status line.
	dot := fmt.Sprintf(`data-dot="%d"`, bobUser.UserID)
	frame, next := watcher.waitFor(from, dot+` data-online="true"`)
	if !strings.Contains(frame, `hx-swap-oob="outerHTML:[data-dot=`) {
		t.Fatalf("presence dot is not out of band: %s", frame)
	}
	bobSock.conn.Close()
	frame, _ = watcher.waitFor(next, dot+` data-online="false"`)
	if !strings.Contains(frame, fmt.Sprintf(`id="status-%d"`, bobUser.UserID)) || !strings.Contains(frame, "last seen") {
		t.Fatalf("the status line does not say bob went offline: %s", frame)
	}
}

// An idle socket costs the server one goroutine, its reader: the writer runs only while there is
// something to write, and the upgrade's goroutine, which holds fasthttp's request context, has
// returned (the server keeps the hijacked connection, and closes it itself).
func TestIdleSocketKeepsOneGoroutine(t *testing.T) {
	ts := startServer(t, testOptions{})
	const n = 4
	var last *liveSocket
	for i := range n {
		last = ts.signedUp(fmt.Sprintf("idle%d", i)).socket().ready()
	}
	goroutines := func(fn string) int {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		return bytes.Count(buf, []byte(fn+"("))
	}
	count := func() string {
		return fmt.Sprintf("%d readers, %d writers, %d upgrade handlers", goroutines("handlers.(*Server).readSocket"),
			goroutines("realtime.(*Socket).writeLoop"), goroutines("fasthttp.hijackConnHandler"))
	}
	expect := func(readers int) {
		t.Helper()
		want := fmt.Sprintf("%d readers, 0 writers, 0 upgrade handlers", readers)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			have := count()
			if have == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("goroutines of the sockets after 10s: %s, want %s", have, want)
			}
		}
	}
	expect(n)
	// The reader of a socket whose peer went away ends (and closes the connection, now the server's).
	last.conn.Close()
	expect(n - 1)
}

func TestShutdownClosesWithServiceRestart(t *testing.T) {
	ts := startServer(t, testOptions{})
	s := ts.signedUp("alice").socket().ready()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ts.srv.Shutdown(ctx)
	if code := s.closeCode(); code != websocket.CloseServiceRestart {
		t.Fatalf("shutdown closed with %d, want 1012", code)
	}
}

// After the broker lost events (KindResync), an open conversation's live area is rebuilt from the
// seq the page was rendered with: what it showed live stays, what it missed arrives.
func TestResyncRebuildsTheLiveArea(t *testing.T) {
	ts := startServer(t, testOptions{})
	a, b := ts.signedUp("alice"), ts.signedUp("bob")
	a.send("bob", "rendered with the page", "")
	s := b.socket()
	s.sendJSON(`{"kind":"open","to":"alice","after":"1"}`)
	_, next := s.waitFor(0, `id="live-`)
	a.send("bob", "live one", "")
	_, next = s.waitFor(next, "live one")
	ts.srv.Hub().Deliver(realtime.Event{Kind: realtime.KindResync})
	frame, _ := s.waitFor(next, `hx-swap-oob="true"`, `id="live-`)
	if !strings.Contains(frame, "live one") || strings.Contains(frame, "rendered with the page") {
		t.Fatalf("resync did not rebuild the live area from the page's seq: %s", frame)
	}
}
