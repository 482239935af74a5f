package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"messenger/handlers/realtime"
)

var clientIDPattern = regexp.MustCompile(`data-client-id="([^"]+)"`)

// clientIDsSeen counts, per client id with the given prefix, the message elements a socket was sent.
func clientIDsSeen(s *liveSocket, prefix string) map[string]int {
	seen := map[string]int{}
	for _, frame := range s.snapshot() {
		for _, m := range clientIDPattern.FindAllStringSubmatch(frame, -1) {
			if strings.HasPrefix(m[1], prefix) {
				seen[m[1]]++
			}
		}
	}
	return seen
}

// waitClientIDs waits until the socket has been sent n distinct messages with client ids starting
// with prefix, and returns them.
func waitClientIDs(t *testing.T, s *liveSocket, prefix string, n int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		seen := clientIDsSeen(s, prefix)
		if len(seen) >= n {
			return seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("the socket was sent %d of %d messages %q*", len(seen), n, prefix)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storedClientIDs counts the stored messages of a conversation by client id.
func storedClientIDs(t *testing.T, ts *testServer, a, b int64) map[string]int {
	t.Helper()
	conv, err := ts.store.ConversationBetween(t.Context(), a, b)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := ts.store.MessagesAfter(t.Context(), conv.ConversationID, 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for _, m := range msgs {
		if m.ClientID == nil {
			t.Fatalf("message %d stored without its client id", m.MessageID)
		}
		stored[*m.ClientID]++
	}
	return stored
}

// assertNoErrors fails if a socket was sent an error for the person (a refusal, "too fast").
func assertNoErrors(t *testing.T, s *liveSocket, who string) {
	t.Helper()
	for _, frame := range s.snapshot() {
		if strings.Contains(frame, `role="alert"`) || strings.Contains(frame, "too fast") {
			t.Fatalf("%s's socket was sent an error: %s", who, frame)
		}
	}
}

// A page that flushes 200 queued messages at once over its socket gets all 200 stored once and
// delivered, none refused; the sender is slowed to the budget (it cannot drain faster than the rate).
func TestBurstOf200FramesIsSlowedNotRefused(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		const n, rate, burst = 200, 100, 20
		ts := startServer(t, testOptions{dialect: dialect, flow: FlowLimits{SendRate: rate, SendBurst: burst}})
		a, b := ts.signedUp("alice"), ts.signedUp("bob")
		aSock, bSock := a.socket().ready(), b.socket().ready()
		start := time.Now()
		for i := range n {
			aSock.sendJSON(fmt.Sprintf(`{"to":"bob","body":"queued %d","client_id":"flush-%03d"}`, i, i))
		}
		for who, s := range map[string]*liveSocket{"alice": aSock, "bob": bSock} {
			for id, times := range waitClientIDs(t, s, "flush-", n) {
				if times != 1 {
					t.Fatalf("%s's socket was sent %s %d times", who, id, times)
				}
			}
			assertNoErrors(t, s, who)
		}
		if min := time.Duration(n-burst) * time.Second / rate; time.Since(start) < min {
			t.Fatalf("%d sends drained in %v, faster than the budget allows (%v)", n, time.Since(start), min)
		}
		stored := storedClientIDs(t, ts, 1, 2)
		if len(stored) != n {
			t.Fatalf("stored %d distinct messages, want %d", len(stored), n)
		}
		for id, times := range stored {
			if times != 1 {
				t.Fatalf("%s stored %d times", id, times)
			}
		}
	})
}

// Two sockets of one user draw on one budget: together they cannot send faster than the rate, which
// they could if each socket had its own.
func TestSocketsOfOneUserShareTheBudget(t *testing.T) {
	const perSocket, rate, burst = 30, 20, 5
	ts := startServer(t, testOptions{flow: FlowLimits{SendRate: rate, SendBurst: burst}})
	a, b := ts.signedUp("alice"), ts.signedUp("bob")
	s1, s2, bSock := a.socket().ready(), a.socket().ready(), b.socket().ready()
	start := time.Now()
	var wg sync.WaitGroup
	for k, s := range []*liveSocket{s1, s2} {
		wg.Go(func() {
			for i := range perSocket {
				s.sendJSON(fmt.Sprintf(`{"to":"bob","body":"tab %d: %d","client_id":"tab%d-%02d"}`, k, i, k, i))
			}
		})
	}
	wg.Wait()
	waitClientIDs(t, bSock, "tab", 2*perSocket)
	// Per socket, the two would be done after (30-5)/20 s; sharing, not before (60-5)/20 s.
	if min := time.Duration(2*perSocket-burst) * time.Second / rate; time.Since(start) < min {
		t.Fatalf("two sockets sent %d messages in %v; one budget allows no less than %v", 2*perSocket, time.Since(start), min)
	}
	if stored := storedClientIDs(t, ts, 1, 2); len(stored) != 2*perSocket {
		t.Fatalf("stored %d messages, want %d", len(stored), 2*perSocket)
	}
	assertNoErrors(t, s1, "alice")
	assertNoErrors(t, s2, "alice")
}

// While one user's flood is being drained, another user's message goes through at once: bob's socket
// receives carol's message before the last of alice's flood.
func TestOneUsersFloodDoesNotSlowOthers(t *testing.T) {
	const n, rate, burst = 100, 20, 5 // the flood takes at least (100-5)/20 s to drain
	ts := startServer(t, testOptions{flow: FlowLimits{SendRate: rate, SendBurst: burst}})
	a, b, c := ts.signedUp("alice"), ts.signedUp("bob"), ts.signedUp("carol")
	aSock, bSock := a.socket().ready(), b.socket().ready()
	for i := range n {
		aSock.sendJSON(fmt.Sprintf(`{"to":"bob","body":"flood %d","client_id":"flood-%03d"}`, i, i))
	}
	bSock.waitFor(0, `data-client-id="flood-000"`)
	if r := c.send("bob", "calm message", "calm-1"); r.status != http.StatusSeeOther {
		t.Fatalf("carol's send: %d %s", r.status, alertText(r.body))
	}
	waitClientIDs(t, bSock, "flood-", n)
	frames := bSock.snapshot()
	calmAt, lastFloodAt := -1, -1
	for i, f := range frames {
		if strings.Contains(f, `data-client-id="calm-1"`) && calmAt < 0 {
			calmAt = i
		}
		if strings.Contains(f, fmt.Sprintf(`data-client-id="flood-%03d"`, n-1)) {
			lastFloodAt = i
		}
	}
	if calmAt < 0 || calmAt > lastFloodAt {
		t.Fatalf("carol's message reached bob at frame %d, after alice's flood ended (frame %d)", calmAt, lastFloodAt)
	}
	assertNoErrors(t, aSock, "alice")
}

// HTTP sends draw on the same budget: beyond it they are slowed, not refused.
func TestHTTPSendsAreSlowedNotRefused(t *testing.T) {
	const n, rate, burst = 12, 5, 2
	ts := startServer(t, testOptions{flow: FlowLimits{SendRate: rate, SendBurst: burst}})
	a := ts.signedUp("alice")
	ts.signedUp("bob")
	tok := a.token("/chat/bob")
	start := time.Now()
	for i := range n {
		form := url.Values{"_csrf": {tok}, "body": {fmt.Sprintf("post %d", i)}, "client_id": {fmt.Sprintf("post-%02d", i)}}
		if r := a.do(http.MethodPost, "/chat/bob/messages", form, nil); r.status != http.StatusSeeOther {
			t.Fatalf("send %d: %d %s", i, r.status, alertText(r.body))
		}
	}
	if min := time.Duration(n-burst) * time.Second / rate; time.Since(start) < min {
		t.Fatalf("%d sends took %v; the budget allows no less than %v", n, time.Since(start), min)
	}
	if stored := storedClientIDs(t, ts, 1, 2); len(stored) != n {
		t.Fatalf("stored %d messages, want %d", len(stored), n)
	}
}

// An HTTP send that would wait longer than SendWait is answered 429 with Retry-After and a readable
// error, its text kept in the composer, and nothing stored.
func TestHTTPSendBeyondTheWaitIs429(t *testing.T) {
	const n = 6 // at one a second, the last would wait five seconds
	ts := startServer(t, testOptions{flow: FlowLimits{SendRate: 1, SendBurst: 1, SendWait: time.Second}})
	a := ts.signedUp("alice")
	ts.signedUp("bob")
	tok := a.token("/chat/bob")
	responses := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			form := url.Values{"_csrf": {tok}, "body": {fmt.Sprintf("hurried %d", i)}, "client_id": {fmt.Sprintf("hurried-%d", i)}}
			responses[i] = a.do(http.MethodPost, "/chat/bob/messages", form, map[string]string{"HX-Request": "true"})
		})
	}
	wg.Wait()
	sent, refused := 0, 0
	for i, r := range responses {
		switch r.status {
		case http.StatusOK:
			sent++
		case http.StatusTooManyRequests:
			refused++
			if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 {
				t.Fatalf("429 with Retry-After %q", r.header.Get("Retry-After"))
			}
			if !strings.Contains(alertText(r.body), "sending faster") {
				t.Fatalf("429 without a readable alert: %s", r.body)
			}
			if !strings.Contains(r.body, fmt.Sprintf("hurried %d", i)) {
				t.Fatalf("the refused text was not kept: %s", r.body)
			}
		default:
			t.Fatalf("send %d: %d %s", i, r.status, r.body)
		}
	}
	if refused < 3 || sent < 1 {
		t.Fatalf("%d sent and %d refused; with a one-second wait at one a second, at least 3 of %d wait too long", sent, refused, n)
	}
	if stored := storedClientIDs(t, ts, 1, 2); len(stored) != sent {
		t.Fatalf("stored %d messages, %d were answered as sent", len(stored), sent)
	}
}

func (ts *testServer) signedIn(username string) *browser {
	ts.t.Helper()
	b := ts.browser()
	r := b.post("/login", "/login", url.Values{"username": {username}, "password": {"a long enough password"}})
	if r.status != http.StatusSeeOther {
		ts.t.Fatalf("login %s: %d %s", username, r.status, alertText(r.body))
	}
	return b
}

func assertClosedTooMany(t *testing.T, s *liveSocket) {
	t.Helper()
	if code := s.closeCode(); code != realtime.CloseTooManySockets {
		t.Fatalf("socket closed with %d (%v), want %d", code, s.err, realtime.CloseTooManySockets)
	}
	if !strings.Contains(s.err.Error(), "too many open pages") {
		t.Fatalf("close reason %q", s.err)
	}
}

func assertStillOpen(t *testing.T, s *liveSocket) {
	t.Helper()
	s.ready()
}

// MAX_SOCKETS: a user's socket past the cap closes their oldest, from whichever browser.
func TestMaxSocketsClosesTheOldest(t *testing.T) {
	ts := startServer(t, testOptions{flow: FlowLimits{SocketsPerUser: 2}})
	laptop := ts.signedUp("alice")
	phone := ts.signedIn("alice")
	oldest := laptop.socket().ready()
	second := phone.socket().ready()
	third := laptop.socket().ready()
	assertClosedTooMany(t, oldest)
	assertStillOpen(t, second)
	assertStillOpen(t, third)
	if n := ts.srv.Hub().Count(); n != 2 {
		t.Fatalf("%d sockets open, want 2", n)
	}
}

// A browser's socket past the per-session cap closes that browser's oldest; the same user's other
// browser keeps its socket.
func TestSocketsPerSessionCloseTheOldest(t *testing.T) {
	ts := startServer(t, testOptions{flow: FlowLimits{SocketsPerUser: 10, SocketsPerSession: 2}})
	laptop := ts.signedUp("alice")
	phone := ts.signedIn("alice")
	onPhone := phone.socket().ready()
	tabs := []*liveSocket{laptop.socket().ready(), laptop.socket().ready(), laptop.socket().ready()}
	assertClosedTooMany(t, tabs[0])
	for _, s := range []*liveSocket{onPhone, tabs[1], tabs[2]} {
		assertStillOpen(t, s)
	}
}

// Sockets from one client address are capped: past the cap the upgrade is answered 429, readable,
// before any protocol switch; a closed socket frees its place.
func TestSocketsPerAddressRefusedBeforeUpgrade(t *testing.T) {
	// The clients arrive through a proxy on loopback that names them: a loopback peer itself is a
	// local proxy or tool, never counted as one client (TestLoopbackPeerIsNotOneClient).
	ts := startServer(t, testOptions{flow: FlowLimits{SocketsPerAddress: 2}, trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	a, b := ts.signedUp("alice"), ts.signedUp("bob")
	client := map[string]string{"X-Forwarded-For": "203.0.113.7"}
	first := a.socketWith(client).ready()
	b.socketWith(client).ready()
	conn, resp, err := a.dialWS(client)
	if err == nil {
		conn.Close()
		t.Fatal("a third socket from one address was upgraded")
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third socket: %v, response %+v", err, resp)
	}
	// Another client behind the same proxy is not refused.
	a.socketWith(map[string]string{"X-Forwarded-For": "198.51.100.9"}).ready()
	first.conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, _, err := b.dialWS(client)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed socket did not free its place: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A peer on loopback without a trusted proxy's word is a local reverse proxy (TRUSTED_PROXIES unset)
// or a tool on the host: counting it as one client would put every user behind that proxy into one
// bucket of MAX_SOCKETS_PER_ADDRESS, the lock-out of issue 6 finding 4.
func TestLoopbackPeerIsNotOneClient(t *testing.T) {
	ts := startServer(t, testOptions{flow: FlowLimits{SocketsPerAddress: 2}})
	users := []*browser{ts.signedUp("alice"), ts.signedUp("bob"), ts.signedUp("carol")}
	for _, u := range users {
		u.socket().ready()
	}
	if n := ts.srv.Hub().Count(); n != len(users) {
		t.Fatalf("%d sockets registered, want %d", n, len(users))
	}
}

// An oversized frame closes the socket with 1009 every time. The client's write never fails on the
// connection (it may stop early because the close frame came, ErrCloseSent): the server reads and
// drops the rest instead of resetting the connection under it, which a browser reports as 1006
// without reading the close frame.
func TestOversizedFrameAlwaysClosesWith1009(t *testing.T) {
	ts := startServer(t, testOptions{})
	a := ts.signedUp("alice")
	ts.signedUp("bob")
	huge := []byte(fmt.Sprintf(`{"to":"bob","body":"%s"}`, strings.Repeat("x", 1<<20)))
	for i := range 50 {
		s := a.socket()
		if err := s.conn.WriteMessage(websocket.TextMessage, huge); err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			t.Fatalf("attempt %d: the connection failed under the client's write: %v", i, err)
		}
		if code := s.closeCode(); code != websocket.CloseMessageTooBig {
			t.Fatalf("attempt %d: oversized frame closed with %d (%v), want 1009", i, code, s.err)
		}
		s.conn.Close()
	}
	if n := unreadFor(t, ts, "alice", "bob"); n != 0 {
		t.Fatalf("%d messages stored from oversized frames", n)
	}
}

// The per-user budgets stay bounded: a budget that has refilled is forgotten when the table grows, so
// many users sending once each do not pile up.
func TestFlowBudgetsOfIdleUsersAreForgotten(t *testing.T) {
	f := newFlowControl(FlowLimits{SendRate: 1e6, SendBurst: 1}.withDefaults()) // refills in a microsecond
	most := 0
	for id := range int64(10_000) {
		f.reserve(id, true)
		most = max(most, len(f.users))
	}
	if most > 2048 {
		t.Fatalf("the table held %d users' budgets; idle ones must be forgotten as it grows", most)
	}
	busy := newFlowControl(FlowLimits{SendRate: 1, SendBurst: 1}.withDefaults()) // none refills in the test
	for id := range int64(3000) {
		busy.reserve(id, true)
	}
	if len(busy.users) != 3000 {
		t.Fatalf("%d of 3000 budgets still in use were kept", len(busy.users))
	}
}
