package handlers

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"messenger/models/store/storetest"
)

const (
	// The statements the page and the socket read their messages with (store.MessagesBefore and
	// store.MessagesAfter), as PostgreSQL receives them.
	pageQuery    = "ORDER BY m.seq DESC LIMIT"
	catchUpQuery = "ORDER BY m.seq LIMIT"
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

// Drill: the same race on the socket. Bob's open conversation is delivered alice's second message;
// her third commits while the socket reads what to push. The second is marked read, the third only
// once the socket has pushed it.
func TestMarkReadRacingANewMessageOnTheSocket(t *testing.T) {
	proxy := newPGProxy(t, storetest.PostgresURL(t))
	ts := startServer(t, testOptions{databaseURL: proxy.url})
	alice, bob := ts.signedUp("alice"), ts.signedUp("bob")
	alice.send("bob", "first", "")
	bob.get("/chat/alice")
	s := bob.socket()
	s.sendJSON(`{"kind":"open","to":"alice","after":"1"}`)
	_, next := s.waitFor(0, `id="live-`)

	second := proxy.hold(catchUpQuery)
	alice.send("bob", "second", "")
	second.wait() // bob's socket has read what to push ("second"), not yet pushed or marked it
	third := proxy.hold(catchUpQuery)
	alice.send("bob", "third", "")
	second.release()
	third.wait() // the socket pushed "second", marked the conversation, and now reads for "third"
	if n := unreadFor(t, ts, "bob"); n != 1 {
		t.Fatalf("bob has %d unread while his socket has pushed only the second message, want 1", n)
	}
	third.release()
	s.waitFor(next, "third")
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
		bobUser, err := ts.store.UserByUsername(t.Context(), "bob")
		if err != nil {
			t.Fatal(err)
		}
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
		_, next := watcher.waitFor(from, `data-user="bob" data-online="true"`)
		if n := ts.srv.Hub().Count(); n != 2 {
			t.Fatalf("%d sockets registered, want alice's and bob's", n)
		}

		link.freeze()
		watcher.waitFor(next, `data-user="bob" data-online="false"`)
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
