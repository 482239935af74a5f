package handlers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"messenger/handlers/realtime"
	"messenger/models/store/storetest"
)

// Two instances on one PostgreSQL, as behind a load balancer: a message sent through one reaches
// sockets on the other, and presence counts sockets on both.
func TestTwoInstancesDeliverAcross(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	one := startServer(t, testOptions{databaseURL: dbURL, pgBroker: true})
	two := startServer(t, testOptions{databaseURL: dbURL, pgBroker: true})
	aliceOnOne := one.signedUp("alice")
	bobOnTwo := two.signedUp("bob")
	bobSock := bobOnTwo.socket()
	aliceSock := aliceOnOne.socket().ready()

	// Presence crosses: bob's socket on instance two shows him online to alice on instance one.
	bobUser, _ := two.store.UserByUsername(t.Context(), "bob")
	_ = two.store.SignOffUser(t.Context(), bobUser.UserID) // only the socket should count
	bobSock.conn.Close()
	bobSock = bobOnTwo.socket().ready()
	aliceSock.waitFor(0, fmt.Sprintf(`data-dot="%d" data-online="true"`, bobUser.UserID))

	aliceOnOne.send("bob", "across instances", "x-1")
	frame, _ := bobSock.waitFor(0, "across instances", `data-client-id="x-1"`)
	if !strings.Contains(frame, `data-sender="alice"`) {
		t.Fatalf("fragment on the other instance: %s", frame)
	}
	bobSock.sendJSON(`{"to":"alice","body":"and back"}`)
	aliceSock.waitFor(0, "and back", `data-sender="bob"`)

	// A reply crosses with its quote, and comes back to the sender's own page with it: on PostgreSQL
	// both instances deliver what the notification carries.
	original := one.sendStored("alice", "bob", "the question")
	bobSock.sendJSON(fmt.Sprintf(`{"to":"alice","body":"the answer","reply_to":%d,"client_id":"x-2"}`, original.MessageID))
	for _, sock := range []*liveSocket{aliceSock, bobSock} {
		frame, _ := sock.waitFor(0, `data-client-id="x-2"`)
		if !strings.Contains(frame, fmt.Sprintf(`data-reply-to="%d"`, original.MessageID)) || !strings.Contains(frame, "<span data-quote-text>the question") {
			t.Fatalf("a reply arrived without its quote: %s", frame)
		}
	}
}

// lostMessagePublishes is a PostgreSQL broker that loses every message event handed to Publish after
// the commit, as an instance that dies between its commit and its own publish would.
type lostMessagePublishes struct{ realtime.TxNotifier }

func (b lostMessagePublishes) Publish(ctx context.Context, ev realtime.Event) error {
	if ev.Kind == realtime.KindMessage {
		return nil
	}
	return b.TxNotifier.Publish(ctx, ev)
}

// A message is announced by the transaction that stores it: the other instance shows it even when
// the sending instance never publishes after its commit.
func TestTwoInstancesMessageAnnouncedByItsCommit(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	lose := func(b realtime.TxNotifier) realtime.Broker { return lostMessagePublishes{b} }
	one := startServer(t, testOptions{databaseURL: dbURL, pgBroker: true, wrapBroker: lose})
	two := startServer(t, testOptions{databaseURL: dbURL, pgBroker: true, wrapBroker: lose})
	aliceOnOne := one.signedUp("alice")
	bobOnTwo := two.signedUp("bob")
	bobSock := bobOnTwo.socket().ready()

	aliceOnOne.send("bob", "committed and announced", "x-1")
	frame, _ := bobSock.waitFor(0, "committed and announced", `data-client-id="x-1"`)
	if !strings.Contains(frame, `data-sender="alice"`) {
		t.Fatalf("fragment on the other instance: %s", frame)
	}
}
