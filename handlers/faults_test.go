package handlers

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"messenger/models"
	"messenger/models/store/storetest"
)

const (
	// The statements the page reads its messages with (store.MessagesBefore) and the conversation is
	// marked read with, as PostgreSQL receives them.
	pageQuery = "ORDER BY m.seq DESC LIMIT"
	// store.MarkRead.
	markReadQuery = "UPDATE messages SET unread"
)

// Drill: mark-read racing a new message. Alice's message commits after bob's page read its messages
// and before the page marks the conversation read: bob never saw it, so it stays unread.
func TestMarkReadRacingANewMessageOnThePage(t *testing.T) {
	proxy := newPGProxy(t, storetest.PostgresURL(t))
	ts := startServer(t, testOptions{databaseURL: proxy.url})
	alice, bob := ts.signedUp("alice"), ts.signedUp("bob")
	alice.send("bob", "shown on the page", "")

	render := proxy.hold(pageQuery)
	page := make(chan string, 1)
	go func() {
		resp, err := bob.client.Get(ts.url + "/chat/alice")
		if err != nil {
			page <- "GET /chat/alice: " + err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		page <- string(body)
	}()
	render.wait() // bob's page has its messages, not yet marked read
	if r := alice.send("bob", "sent after the page was rendered", ""); r.status != http.StatusSeeOther {
		t.Fatalf("send while bob's page renders: %d", r.status)
	}
	render.release()
	body := <-page
	start, end := strings.Index(body, `id="messages"`), strings.Index(body, `id="live-`)
	if start < 0 || end < start {
		t.Fatalf("no conversation on the page:\n%s", body)
	}
	// The users list may preview the new message; the conversation must not hold it.
	if history := body[start:end]; !strings.Contains(history, "shown on the page") || strings.Contains(history, "sent after the page was rendered") {
		t.Fatalf("the conversation does not show exactly the first message:\n%s", history)
	}
	if n := unreadFor(t, ts, "bob"); n != 1 {
		t.Fatalf("bob has %d unread after his page marked the conversation read, want 1 (the message he has not seen)", n)
	}
	if body := bob.get("/chat/alice").body; !strings.Contains(body, "sent after the page was rendered") {
		t.Fatal("the next page does not show the new message")
	}
	if n := unreadFor(t, ts, "bob"); n != 0 {
		t.Fatalf("bob has %d unread after a page showed everything", n)
	}
}

// Drill: the same race on the socket. Bob's open conversation is pushed alice's second message, and
// the socket's mark-read (off its writer, up to the seq it pushed) is held while her third commits and
// is pushed: the second is read, the third only once the mark that covers it runs.
func TestMarkReadRacingANewMessageOnTheSocket(t *testing.T) {
	proxy := newPGProxy(t, storetest.PostgresURL(t))
	ts := startServer(t, testOptions{databaseURL: proxy.url})
	alice, bob := ts.signedUp("alice"), ts.signedUp("bob")
	alice.send("bob", "first", "")
	bob.get("/chat/alice")
	s := bob.socket()
	s.sendJSON(`{"kind":"open","to":"alice","after":"1"}`)
	_, next := s.waitFor(0, `id="live-`)

	// Alice writes from a socket: her conversation page would mark her side read with the same statement.
	aliceSock := alice.socket().ready()
	mark := proxy.hold(markReadQuery)
	aliceSock.sendJSON(`{"to":"bob","body":"second"}`)
	_, next = s.waitFor(next, "second")
	mark.wait() // the conversation is marked read up to "second"; the answer is held
	aliceSock.sendJSON(`{"to":"bob","body":"third"}`)
	s.waitFor(next, "third")
	if n := unreadFor(t, ts, "bob"); n != 1 {
		t.Fatalf("bob has %d unread while only the mark up to the second message ran, want 1", n)
	}
	mark.release()
	deadline := time.Now().Add(10 * time.Second)
	for unreadFor(t, ts, "bob") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the third message, pushed to the open conversation, stays unread")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Drill: a half-open connection. Bob's link dies without a FIN (a proxy stops forwarding both ways
// and never closes): the server's ping/pong deadline closes his socket, alice's page sees him go
// offline, and the process is back to the goroutines it had before his socket. Alice's socket, as
// silent as his but answering pings, stays.
func TestHalfOpenConnectionGoesOffline(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect, pingEvery: 500 * time.Millisecond, pongWait: 3 * time.Second})
		alice, bob := ts.signedUp("alice"), ts.signedUp("bob")
		// The active window of bob's sign-up would keep him online; only his socket must count.
		bobUser := userNamed(t, ts, "bob")
		if err := ts.store.SignOffUser(t.Context(), bobUser.UserID); err != nil {
			t.Fatal(err)
		}
		watcher := alice.socket().ready()
		link := newTCPProxy(t, strings.TrimPrefix(ts.url, "http://"))
		baseline := runtime.NumGoroutine()

		from := len(watcher.snapshot())
		conn, _, err := bob.dialWSWith(&websocket.Dialer{NetDial: link.dial}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Presence reaches every page as one fragment: bob's dots (row and conversation header).
		bobDot := fmt.Sprintf(`data-dot="%d"`, bobUser.UserID)
		_, next := watcher.waitFor(from, bobDot+` data-online="true"`)
		if n := ts.srv.Hub().Count(); n != 2 {
			t.Fatalf("%d sockets registered, want alice's and bob's", n)
		}

		link.freeze()
		watcher.waitFor(next, bobDot+` data-online="false"`)
		if n := ts.srv.Hub().Count(); n != 1 {
			t.Fatalf("%d sockets registered after bob's link died, want alice's only", n)
		}
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > baseline+2 {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines, %d before bob's socket:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(20 * time.Millisecond)
		}
		select {
		case <-watcher.closed:
			t.Fatalf("alice's socket, answering pings, was closed: %v", watcher.err)
		default:
		}
	})
}

// Drill: a client that stops reading while others chat at speed. Carol's socket (a small TCP receive
// buffer, never read) is sent large messages until the kernel's buffers and then her bounded queue are
// full: the hub closes her socket, and alice and bob, chatting all along, are each shown every message
// of theirs, in order. The write timeout and the pong wait are set beyond the test's length, so the
// full queue is what closes her socket: what the server holds for a client that stopped reading is
// bounded by the queue.
func TestSlowReaderIsDroppedOthersKeepChatting(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		const (
			chat    = 100  // messages each of alice and bob send the other
			maxSent = 2000 // large messages to carol after which her socket must have been closed
		)
		ts := startServer(t, testOptions{dialect: dialect, writeTimeout: time.Hour, pongWait: time.Hour, flow: FlowLimits{SendRate: NoLimit}})
		alice, bob, carol := ts.signedUp("alice"), ts.signedUp("bob"), ts.signedUp("carol")
		aSock, bSock := alice.socket(), bob.socket()
		aSock.sendJSON(`{"kind":"open","to":"bob","after":"0"}`)
		bSock.sendJSON(`{"kind":"open","to":"alice","after":"0"}`)
		aSock.waitFor(0, `id="live-`)
		bSock.waitFor(0, `id="live-`)

		slow, _, err := carol.dialWSWith(&websocket.Dialer{NetDialContext: smallReceiveBuffer.DialContext}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		// One frame is read, to know the socket is registered; then carol's page never reads again.
		if err := slow.WriteMessage(websocket.TextMessage, []byte(`{"kind":"close"}`)); err != nil {
			t.Fatal(err)
		}
		_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := slow.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		carolUser := userNamed(t, ts, "carol")
		carolOnline := func() bool { return slices.Contains(ts.srv.Hub().OnlineUsers(), carolUser.UserID) }
		if !carolOnline() {
			t.Fatal("carol's socket is not registered")
		}

		dave := ts.signedUp("dave")
		tokens := map[*browser]string{alice: alice.token("/"), bob: bob.token("/"), dave: dave.token("/")}
		post := func(from *browser, to, body string) bool {
			r := from.do(http.MethodPost, "/chat/"+to+"/messages", url.Values{"_csrf": {tokens[from]}, "body": {body}}, nil)
			if r.status != http.StatusSeeOther {
				t.Errorf("send to %s: %d", to, r.status)
			}
			return r.status == http.StatusSeeOther
		}
		var wg sync.WaitGroup
		for _, side := range []struct {
			from   *browser
			to, id string
		}{{alice, "bob", "ab"}, {bob, "alice", "ba"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < chat; i++ {
					if !post(side.from, side.to, fmt.Sprintf("%s-%04d", side.id, i)) {
						return
					}
				}
			}()
		}
		// 4,000 characters that each escape to 4 bytes: a 16 KB fragment per message. Dave, with no
		// socket of his own, floods carol with them from several requests at once.
		large := strings.Repeat("<", models.BodyMaxLen)
		var sent atomic.Int64
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for carolOnline() && sent.Add(1) <= maxSent {
					if !post(dave, "carol", large) {
						return
					}
				}
			}()
		}
		wg.Wait()
		if carolOnline() {
			t.Fatalf("carol's socket, never read, is still open after %d large messages", maxSent)
		}
		t.Logf("carol's socket was closed after at most %d large messages", sent.Load())
		if n := ts.srv.Hub().Count(); n != 2 {
			t.Fatalf("%d sockets open, want alice's and bob's", n)
		}

		aliceUser := userNamed(t, ts, "alice")
		bobUser := userNamed(t, ts, "bob")
		conv, err := ts.store.ConversationBetween(t.Context(), aliceUser.UserID, bobUser.UserID)
		if err != nil {
			t.Fatal(err)
		}
		history, err := ts.store.MessagesAfter(t.Context(), conv.ConversationID, 0, 3*chat)
		if err != nil {
			t.Fatal(err)
		}
		if len(history) != 2*chat {
			t.Fatalf("alice and bob stored %d messages, want %d", len(history), 2*chat)
		}
		want, theirs := make([]int64, len(history)), map[int64]bool{}
		for i, m := range history {
			want[i], theirs[m.MessageID] = m.MessageID, true
		}
		for name, s := range map[string]*liveSocket{"alice": aSock, "bob": bSock} {
			deadline := time.Now().Add(60 * time.Second)
			for {
				shown := slices.DeleteFunc(liveShown(s), func(id int64) bool { return !theirs[id] })
				if slices.Equal(shown, want) {
					break
				}
				if len(shown) >= len(want) || time.Now().After(deadline) {
					t.Fatalf("%s's page was shown %d of alice and bob's %d messages live, or out of order", name, len(shown), len(want))
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	})
}

// smallReceiveBuffer dials with a 4 KB TCP receive buffer: a client that stops reading makes the
// server's writes block soon.
var smallReceiveBuffer = &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) {
		err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	}); cerr != nil {
		return cerr
	}
	return err
}}

func userNamed(t *testing.T, ts *testServer, name string) models.User {
	t.Helper()
	u, err := ts.store.UserByUsername(t.Context(), name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	return u
}
