package handlers

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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
