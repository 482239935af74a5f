package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"messenger/models/store"
)

// A logout deletes the session's row before it announces the end: a socket closed by the
// announcement that reconnects at once must find no session to reconnect with.
func TestLogoutDeletesBeforeItAnnounces(t *testing.T) {
	ts := startServer(t, testOptions{})
	a := ts.signedUp("alice")
	sock := a.socket().ready()
	var mu sync.Mutex
	var stillThere []string
	announce := ts.srv.sessions.Ended
	ts.srv.sessions.Ended = func(ctx context.Context, hashes []string) {
		for _, h := range hashes {
			if _, err := ts.store.SessionByHash(ctx, h); !errors.Is(err, store.ErrNotFound) {
				mu.Lock()
				stillThere = append(stillThere, h)
				mu.Unlock()
			}
		}
		announce(ctx, hashes)
	}
	if r := a.post("/", "/logout", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	sock.closeCode()
	mu.Lock()
	defer mu.Unlock()
	if len(stillThere) != 0 {
		t.Fatalf("the end of %d session(s) was announced while their rows still existed", len(stillThere))
	}
}

// The sender of a form post is the session's user, whatever the form claims.
func TestForgedSenderInAFormIsIgnored(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		a := ts.signedUp("alice")
		ts.signedUp("bob")
		bob, err := ts.store.UserByUsername(t.Context(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		alice, err := ts.store.UserByUsername(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		forged := url.Values{"body": {"who sent this"}, "sender_user_id": {strconv.FormatInt(bob.UserID, 10)},
			"sender": {"bob"}, "from": {"bob"}, "SenderUserID": {strconv.FormatInt(bob.UserID, 10)}}
		if r := a.post("/chat/bob", "/chat/bob/messages", forged); r.status != http.StatusSeeOther {
			t.Fatalf("send with forged sender fields: %d %s", r.status, alertText(r.body))
		}
		conv, err := ts.store.ConversationBetween(t.Context(), alice.UserID, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		history, err := ts.store.MessagesAfter(t.Context(), conv.ConversationID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(history) != 1 || history[0].SenderUserID != alice.UserID || history[0].RecipientUserID != bob.UserID {
			t.Fatalf("stored %+v, want one message from alice to bob", history)
		}
	})
}
