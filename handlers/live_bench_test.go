package handlers

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"messenger/handlers/realtime"
	"messenger/models"
)

// countingConn is a connection that keeps nothing: it counts the frames written to it.
type countingConn struct{ written *atomic.Int64 }

func (c countingConn) WriteMessage(int, []byte) error { c.written.Add(1); return nil }
func (c countingConn) WriteControl(int, []byte, time.Time) error {
	return nil
}
func (c countingConn) SetWriteDeadline(time.Time) error { return nil }
func (c countingConn) Close() error                     { return nil }

func benchMessage() (realtime.Event, models.User, models.User) {
	alice := models.User{UserID: 1, Username: "alice", FirstName: "Alice", LastName: "Archer"}
	bob := models.User{UserID: 2, Username: "bob", FirstName: "Bob", LastName: "Baker"}
	client := "bench-1"
	msg := models.ExtendedMessage{Message: models.Message{MessageID: 99, ConversationID: 1, Seq: 1,
		MessageBody: "Hello Bob, this is a message of an ordinary length.", MessageDate: time.Now(),
		SenderUserID: 1, RecipientUserID: 2, Unread: true, ClientID: &client}, SenderUsername: "alice", RecipientUsername: "bob"}
	ev := realtime.Event{Kind: realtime.KindMessage, Users: []int64{1, 2}, MessageID: 99, ConversationID: 1, Seq: 1,
		ActorID: 1, RecipientUnread: 1, Message: &msg, Sender: &alice, Receiver: &bob}
	return ev, alice, bob
}

// BenchmarkRenderMessageFragment renders one variant of a new message (what the first socket of a
// role pays; every other socket of that variant reuses the bytes).
func BenchmarkRenderMessageFragment(b *testing.B) {
	ts := startServer(b, testOptions{})
	ev, _, bob := benchMessage()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ts.srv.messageFragment(context.Background(), ev, bob.UserID, *ev.Sender, roleRecipient, pageElsewhere, true, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFanOut delivers one message through the hub to the sockets of its two people (half of
// them with the conversation open) and waits until every socket has written its frame.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{2, 50, 500} {
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) {
			ts := startServer(b, testOptions{flow: FlowLimits{SocketsPerUser: NoLimit, SocketsPerSession: NoLimit}})
			ev, alice, bob := benchMessage()
			var written atomic.Int64
			for i := range n {
				me, partner := alice, bob
				if i%2 == 1 {
					me, partner = bob, alice
				}
				sock := ts.srv.hub.Register(me.UserID, fmt.Sprintf("s%d", i), countingConn{&written})
				b.Cleanup(func() { ts.srv.hub.Unregister(sock) })
				st := &socketState{me: me}
				if i%4 < 2 {
					st.partner = partner
				}
				sock.Do(func(context.Context, *realtime.Socket) ([]byte, error) {
					sock.State = st
					return nil, nil
				})
			}
			b.ReportAllocs()
			want := int64(0)
			for b.Loop() {
				// Every delivery is a message the open pages have not seen (the next seq).
				m := *ev.Message
				m.Seq = want/int64(n) + 1
				e := ev
				e.Message, e.Seq = &m, m.Seq
				ts.srv.hub.Deliver(e)
				want += int64(n)
				for written.Load() < want {
					time.Sleep(10 * time.Microsecond)
				}
			}
		})
	}
}
