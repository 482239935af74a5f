package handlers

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"messenger/handlers/realtime"
	"messenger/models/store/storetest"
)

// privatePair is alice and bob having written to each other, and carol with her conversation with
// alice open on a socket: the scene of the reused-client-id leak (issue 6, finding 1).
type privatePair struct {
	ts                  *testServer
	alice, carol        *browser
	carolSock           *liveSocket
	aliceToBob          int64 // the id of alice's message to bob
	aliceID, carolID    int64
	secrets             []string
	conversationOfAlice int64 // alice and bob's conversation
}

func newPrivatePair(t *testing.T, opts testOptions) *privatePair {
	ts := startServer(t, opts)
	alice, bob, carol := ts.signedUp("alice"), ts.signedUp("bob"), ts.signedUp("carol")
	p := &privatePair{ts: ts, alice: alice, carol: carol, secrets: []string{"for bob only", "bob answers alice"}}
	if r := alice.send("bob", p.secrets[0], "reused-id"); r.status != http.StatusSeeOther {
		t.Fatalf("alice to bob: %d %s", r.status, alertText(r.body))
	}
	if r := bob.send("alice", p.secrets[1], ""); r.status != http.StatusSeeOther {
		t.Fatalf("bob to alice: %d %s", r.status, alertText(r.body))
	}
	ids := map[string]int64{}
	for _, name := range []string{"alice", "bob", "carol"} {
		u, err := ts.store.UserByUsername(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = u.UserID
	}
	p.aliceID, p.carolID = ids["alice"], ids["carol"]
	conv, err := ts.store.ConversationBetween(t.Context(), ids["alice"], ids["bob"])
	if err != nil {
		t.Fatal(err)
	}
	p.conversationOfAlice = conv.ConversationID
	history, err := ts.store.MessagesAfter(t.Context(), conv.ConversationID, 0, 10)
	if err != nil || len(history) != 2 {
		t.Fatalf("alice and bob's history: %d messages, %v", len(history), err)
	}
	p.aliceToBob = history[0].MessageID
	p.carolSock = carol.socket().ready()
	from := len(p.carolSock.snapshot())
	p.carolSock.sendJSON(`{"kind":"open","to":"alice","after":"0","HEADERS":{}}`)
	p.carolSock.waitFor(from, `id="live-`)
	return p
}

// stillPrivate proves carol's socket is live for her conversation with alice (alice's next message
// arrives) and, since a socket's frames keep their order, that nothing of alice and bob's reached it
// before.
func (p *privatePair) stillPrivate(t *testing.T, next string) {
	t.Helper()
	from := len(p.carolSock.snapshot())
	if r := p.alice.send("carol", next, ""); r.status != http.StatusSeeOther {
		t.Fatalf("alice to carol: %d %s", r.status, alertText(r.body))
	}
	p.carolSock.waitFor(from, `id="append-live-`, next)
	for _, frame := range p.carolSock.snapshot() {
		for _, secret := range p.secrets {
			if strings.Contains(frame, secret) {
				t.Fatalf("carol's socket received alice and bob's message %q: %s", secret, frame)
			}
		}
	}
}

func TestReusedClientIDForAnotherRecipientIsRefused(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		p := newPrivatePair(t, testOptions{dialect: dialect})
		r := p.alice.send("carol", "hello carol", "reused-id")
		if r.status != http.StatusConflict {
			t.Fatalf("client id of a message to bob reused for carol: %d, want 409", r.status)
		}
		if alert := alertText(r.body); !strings.Contains(alert, "already used") {
			t.Fatalf("alert %q does not say why", alert)
		}
		if !strings.Contains(r.body, "hello carol") {
			t.Fatal("the refused text is not kept in the composer")
		}
		if strings.Contains(r.body, `value="reused-id"`) {
			t.Fatal("the composer offers the refused client id again, so sending again would be refused too")
		}
		if n := unreadFor(t, p.ts, "carol"); n != 0 {
			t.Fatalf("carol has %d unread after a refused send", n)
		}
		p.stillPrivate(t, "carol still gets messages from alice live")
	})
}

func TestReusedClientIDWithAnotherBodyIsRefused(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		p := newPrivatePair(t, testOptions{dialect: dialect})
		if r := p.alice.send("bob", "a different text", "reused-id"); r.status != http.StatusConflict {
			t.Fatalf("client id reused with another text: %d, want 409", r.status)
		}
		// A true retry (same recipient, same text) is still answered as sent, and stored once.
		if r := p.alice.send("bob", p.secrets[0], "reused-id"); r.status != http.StatusSeeOther {
			t.Fatalf("retry of the same message: %d %s", r.status, alertText(r.body))
		}
		history, err := p.ts.store.MessagesAfter(t.Context(), p.conversationOfAlice, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(history) != 2 || history[0].MessageBody != p.secrets[0] {
			t.Fatalf("alice and bob's conversation holds %d messages, want the first two unchanged", len(history))
		}
	})
}

func TestReusedClientIDOverTheSocketIsRefused(t *testing.T) {
	p := newPrivatePair(t, testOptions{})
	s := p.alice.socket().ready()
	from := len(s.snapshot())
	s.sendJSON(`{"to":"carol","body":"over the socket","client_id":"reused-id","HEADERS":{}}`)
	s.waitFor(from, `role="alert"`, "already used")
	p.stillPrivate(t, "after the refused frame")
}

// An event addressed to carol naming alice and bob's message (a bug in a publisher, or anyone able to
// publish) shows her nothing: a socket renders a message only for its sender and its recipient.
func TestForgedEventForAnotherUserShowsNothing(t *testing.T) {
	p := newPrivatePair(t, testOptions{})
	p.ts.srv.Hub().Deliver(realtime.Event{Kind: realtime.KindMessage, Users: []int64{p.carolID},
		MessageID: p.aliceToBob, ConversationID: p.conversationOfAlice, Seq: 1, ActorID: p.aliceID})
	p.stillPrivate(t, "after the forged event")
}

// On PostgreSQL anything able to NOTIFY on the events channel can publish; it still cannot push a
// message to someone who is not in it.
func TestForgedNotificationForAnotherUserShowsNothing(t *testing.T) {
	dsn := storetest.URL(t, "postgres")
	p := newPrivatePair(t, testOptions{dialect: "postgres", databaseURL: dsn, pgBroker: true})
	forged, err := json.Marshal([]realtime.Event{{Kind: realtime.KindMessage, Users: []int64{p.carolID},
		MessageID: p.aliceToBob, ConversationID: p.conversationOfAlice, Seq: 1, ActorID: p.aliceID}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), "SELECT pg_notify('messenger_events', $1)", string(forged)); err != nil {
		t.Fatal(err)
	}
	p.stillPrivate(t, "after the forged notification")
}
