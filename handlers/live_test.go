package handlers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"messenger/handlers/realtime"
	"messenger/models"
	"messenger/models/store"
)

// Delivering an event to sockets reads nothing from the database: with the database closed, a message
// still reaches every socket of its two people (and no one else), a presence change and a newcomer's
// row reach every socket. Were any socket's render to ask the database, its frame would never come.
func TestLiveDeliveryReadsNoDatabase(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		users := map[string]models.User{}
		socks := map[string][]*liveSocket{}
		for _, name := range []string{"alice", "bob", "carol"} {
			b := ts.signedUp(name)
			u, err := ts.store.UserByUsername(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			users[name] = u
			for range 6 {
				socks[name] = append(socks[name], b.socket().ready())
			}
		}
		alice, bob, carol := users["alice"], users["bob"], users["carol"]
		msg, _, err := ts.store.SendMessage(t.Context(), store.SendInput{SenderID: alice.UserID, RecipientID: bob.UserID, Body: "read from no database"})
		if err != nil {
			t.Fatal(err)
		}
		ev := ts.srv.liveMessageEvent(t.Context(), msg, true, alice, bob)
		newcomer := models.User{UserID: carol.UserID + 100, Username: "dave", FirstName: "Dave"}
		froms := map[*liveSocket]int{}
		for _, list := range socks {
			for _, s := range list {
				froms[s] = len(s.snapshot())
			}
		}

		if err := ts.store.Close(); err != nil {
			t.Fatal(err)
		}
		ts.srv.deliver(ev)
		ts.srv.deliver(realtime.Event{Kind: realtime.KindPresence, Instance: "elsewhere", Up: []int64{bob.UserID}})
		ts.srv.deliver(realtime.Event{Kind: realtime.KindUser, ActorID: newcomer.UserID, Actor: &newcomer})

		for _, name := range []string{"alice", "bob"} {
			for _, s := range socks[name] {
				frame, _ := s.waitFor(froms[s], "read from no database", fmt.Sprintf(`data-message-id="%d"`, msg.MessageID))
				if !strings.Contains(frame, `hx-swap-oob="afterbegin:#user-list"`) {
					t.Fatalf("%s's fragment does not move the row up: %s", name, frame)
				}
			}
		}
		bobRow, _ := socks["bob"][0].waitFor(froms[socks["bob"][0]], `data-user="alice"`)
		if unreadCounts(bobRow)["alice"] != "1" {
			t.Fatalf("bob's row for alice: %s", bobRow)
		}
		for name, list := range socks {
			for _, s := range list {
				s.waitFor(froms[s], fmt.Sprintf(`data-dot="%d" data-online="true"`, bob.UserID))
				s.waitFor(froms[s], `data-user="dave"`, `beforeend:#user-list`)
				// A socket's frames keep the order of the events, so carol's would hold the message
				// before the newcomer's row.
				if name == "carol" {
					for _, f := range s.snapshot()[froms[s]:] {
						if strings.Contains(f, "read from no database") {
							t.Fatalf("carol, neither sender nor recipient, got the message: %s", f)
						}
					}
				}
			}
		}
	})
}

// The renderer shows a message only to its sender and recipient, whatever sockets an event reaches.
func TestRendererShowsAMessageOnlyToItsPair(t *testing.T) {
	ts := startServer(t, testOptions{})
	alice := models.User{UserID: 1, Username: "alice"}
	bob := models.User{UserID: 2, Username: "bob"}
	msg := models.ExtendedMessage{Message: models.Message{MessageID: 7, ConversationID: 1, Seq: 1, MessageBody: "for two",
		SenderUserID: 1, RecipientUserID: 2, MessageDate: time.Now()}, SenderUsername: "alice", RecipientUsername: "bob"}
	ev := realtime.Event{Kind: realtime.KindMessage, Users: []int64{1, 2, 3}, Message: &msg, Sender: &alice, Receiver: &bob,
		Frames: &realtime.Frames{}}
	for _, c := range []struct {
		me   int64
		sees bool
	}{{1, true}, {2, true}, {3, false}} {
		sk := &realtime.Socket{UserID: c.me, State: &socketState{me: models.User{UserID: c.me}, partner: bob}}
		frame, err := ts.srv.renderEvent(context.Background(), sk, ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(frame), "for two"); got != c.sees {
			t.Fatalf("user %d sees the message: %v, want %v: %s", c.me, got, c.sees, frame)
		}
	}
}

// Someone who registers appears at once in the lists of those signed in, with the row's hooks.
func TestNewUserAppearsLive(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		watcher := ts.signedUp("alice").socket().ready()
		if strings.Contains(watcher.snapshot()[0], `data-user="bob"`) {
			t.Fatal("bob listed before he registered")
		}
		ts.signedUp("bob")
		frame, _ := watcher.waitFor(0, `data-user="bob"`, `hx-swap-oob="beforeend:#user-list"`)
		if !strings.Contains(frame, `data-unread="0"`) || !strings.Contains(frame, `<li id="user-list-empty" hx-swap-oob="delete">`) {
			t.Fatalf("bob's new row: %s", frame)
		}
	})
}
