package handlers

import (
	"strings"
	"testing"

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
	aliceSock.waitFor(0, `data-user="bob"`, `data-online="true"`)

	aliceOnOne.send("bob", "across instances", "x-1")
	frame, _ := bobSock.waitFor(0, "across instances", `data-client-id="x-1"`)
	if !strings.Contains(frame, `data-sender="alice"`) {
		t.Fatalf("fragment on the other instance: %s", frame)
	}
	bobSock.sendJSON(`{"to":"alice","body":"and back"}`)
	aliceSock.waitFor(0, "and back", `data-sender="bob"`)
}
