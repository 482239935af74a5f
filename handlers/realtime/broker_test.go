package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"messenger/models"
)

// runBroker runs b until stop is called or the test ends, and checks that
// Run returns.
func runBroker(t *testing.T, b Broker, deliver func(Event)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- b.Run(ctx, deliver) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-stopped:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(waitTimeout):
				t.Error("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func receive(t *testing.T, events <-chan Event, what string) Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		return Event{}
	}
}

func TestLocalBrokerDeliversInPublishOrder(t *testing.T) {
	const n = 5000
	b := NewLocalBroker()
	events := make(chan Event, 2*n)
	runBroker(t, b, func(ev Event) {
		events <- ev
		// A deliver func that publishes (presence fan-out does) must not deadlock.
		if ev.Kind == KindMessage && ev.MessageID%100 == 0 {
			if err := b.Publish(context.Background(), Event{Kind: KindRead, MessageID: ev.MessageID}); err != nil {
				t.Errorf("Publish from deliver: %v", err)
			}
		}
	})

	for id := int64(1); id <= n; id++ {
		users := []int64{1, 2}
		if err := b.Publish(context.Background(), Event{Kind: KindMessage, MessageID: id, Users: users}); err != nil {
			t.Fatal(err)
		}
		// The caller may reuse its slice: the broker must have kept a copy.
		users[0] = -id
	}
	var messages, reads []int64
	for len(messages) < n || len(reads) < n/100 {
		ev := receive(t, events, "published events")
		switch ev.Kind {
		case KindMessage:
			if !slices.Equal(ev.Users, []int64{1, 2}) {
				t.Fatalf("event %d delivered with users %v", ev.MessageID, ev.Users)
			}
			messages = append(messages, ev.MessageID)
		case KindRead:
			reads = append(reads, ev.MessageID)
		}
	}
	if !slices.IsSorted(messages) || !slices.IsSorted(reads) {
		t.Fatal("events delivered out of publish order")
	}
}

func TestLocalBrokerRefusesWhenFullOrLocalOnly(t *testing.T) {
	b := NewLocalBroker()
	if err := b.Publish(context.Background(), Event{Kind: KindResync}); err == nil {
		t.Fatal("published a resync, which is local only")
	}
	// Not running: nothing drains the queue.
	for i := range publishQueueLimit {
		if err := b.Publish(context.Background(), Event{Kind: KindTyping}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if err := b.Publish(context.Background(), Event{Kind: KindTyping}); !errors.Is(err, ErrPublishQueueFull) {
		t.Fatalf("publish beyond the limit: %v, want ErrPublishQueueFull", err)
	}
}

func TestEncodeEventSplitsOversizeEvents(t *testing.T) {
	users := make([]int64, 5000)
	for i := range users {
		users[i] = 1_000_000_000_000 + int64(i)
	}
	ev := Event{Kind: KindPresence, ActorID: 42, Up: []int64{42}, Users: users}
	parts, err := encodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("a %d-user event was not split", len(users))
	}
	var got []int64
	for _, p := range parts {
		if len(p)+len("[]") > maxPayload {
			t.Fatalf("part of %d bytes", len(p))
		}
		var part Event
		if err := json.Unmarshal(p, &part); err != nil {
			t.Fatal(err)
		}
		got = append(got, part.Users...)
		if part.Kind != KindPresence || part.ActorID != 42 || len(part.Up) != 1 {
			t.Fatalf("part lost fields: %+v", part)
		}
	}
	if !slices.Equal(got, users) {
		t.Fatal("split lost or reordered users")
	}

	for _, tooBig := range []Event{
		{Kind: KindSessionEnded, SessionID: strings.Repeat("x", maxPayload)},
		{Kind: KindTyping, Users: []int64{1}, SessionID: strings.Repeat("x", maxPayload)},
	} {
		if _, err := encodeEvent(tooBig); err == nil {
			t.Fatal("an event that cannot fit a notification was accepted")
		}
	}
}

// A new message crosses instances with its event when it fits the payload, and arrives as the
// sending instance had it; a long one goes by id alone, for each instance to read once.
func TestMessageTravelsWithItsEventWhenItFits(t *testing.T) {
	b := &pgBroker{log: slog.New(slog.DiscardHandler)}
	at := time.Date(2026, 12, 3, 16, 30, 1, 123456000, time.FixedZone("CET", 3600))
	reply, client := int64(6), "c-1"
	short := &models.ExtendedMessage{Message: models.Message{MessageID: 7, ConversationID: 3, Seq: 2, MessageDate: at,
		MessageBody: "hello <b>bob</b> ✓", SenderUserID: 1, RecipientUserID: 2, Unread: true, ClientID: &client, ReplyToID: &reply,
		Attachment: &models.Attachment{AttachmentID: 9, MessageID: 7, UploaderID: 1, SHA256: "ab", Name: "a.png", Size: 5, ContentType: "image/png", Width: 4, Height: 3, CreatedAt: at}},
		SenderUsername: "alice", RecipientUsername: "bob", SenderUnread: 0, RecipientUnread: 4,
		ReplyTo: &models.Quote{MessageID: 6, SenderUsername: "bob", Body: "hi"}}
	long := *short
	long.MessageBody = strings.Repeat("é", maxPayload)
	for _, tt := range []struct {
		name    string
		message *models.ExtendedMessage
		carried bool
	}{{"short", short, true}, {"long", &long, false}} {
		t.Run(tt.name, func(t *testing.T) {
			ev := Event{Kind: KindMessage, MessageID: 7, ConversationID: 3, Seq: 2, Users: []int64{1, 2}, Message: tt.message}
			_, payloads := b.Notifications([]Event{ev})
			if len(payloads) != 1 || len(payloads[0]) > maxPayload {
				t.Fatalf("%d payloads for one message", len(payloads))
			}
			var got []Event
			b.deliverPayload(payloads[0], func(ev Event) { got = append(got, ev) })
			if len(got) != 1 || got[0].MessageID != 7 || got[0].Carried != nil {
				t.Fatalf("delivered %+v", got)
			}
			if !tt.carried {
				if got[0].Message != nil || strings.Contains(payloads[0], "é") {
					t.Fatalf("a message too long for the payload travelled with it: %.200s", payloads[0])
				}
				return
			}
			m := got[0].Message
			if m == nil || !m.MessageDate.Equal(at) || m.Attachment == nil || !m.Attachment.CreatedAt.Equal(at) {
				t.Fatalf("the message did not travel with its event: %+v", m)
			}
			want := *tt.message
			want.MessageDate, want.Attachment = m.MessageDate, &models.Attachment{}
			*want.Attachment = *tt.message.Attachment
			want.Attachment.CreatedAt = m.Attachment.CreatedAt
			if !reflect.DeepEqual(*m, want) {
				t.Fatalf("arrived as\n%+v\nwant\n%+v", *m, want)
			}
		})
	}
	// A carried message that is not the event's is not taken for it.
	var got []Event
	b.deliverPayload(`[{"k":"message","m":8,"msg":{"MessageID":7}}]`, func(ev Event) { got = append(got, ev) })
	if len(got) != 1 || got[0].Message != nil {
		t.Fatalf("delivered %+v", got)
	}
}

func TestNextBatchStaysUnderTheLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var events [][]byte
	for i := range 500 {
		ev := Event{Kind: KindMessage, MessageID: int64(i), Users: make([]int64, rng.IntN(400))}
		parts, err := encodeEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, parts...)
	}
	var ids []int64
	for pending := events; len(pending) > 0; {
		payload, n := nextBatch(pending)
		if n < 1 || len(payload) > maxPayload {
			t.Fatalf("batch of %d events, %d bytes", n, len(payload))
		}
		var batch []Event
		if err := json.Unmarshal([]byte(payload), &batch); err != nil || len(batch) != n {
			t.Fatalf("batch does not decode to its %d events: %v", n, err)
		}
		for _, ev := range batch {
			ids = append(ids, ev.MessageID)
		}
		pending = pending[n:]
	}
	if len(ids) != 500 || !slices.IsSorted(ids) {
		t.Fatalf("batches carried %d events, sorted: %v", len(ids), slices.IsSorted(ids))
	}
}

func TestDeliverPayloadSkipsBadInput(t *testing.T) {
	b := &pgBroker{log: slog.New(slog.DiscardHandler)}
	for _, tt := range []struct {
		payload string
		want    []int64
	}{
		{`[{"k":"message","m":1},{"k":"read","m":2}]`, []int64{1, 2}},
		{`not json`, nil},
		{`{"k":"message","m":1}`, nil},
		{`null`, nil},
		{`[{"k":"message","m":"x"},{"k":"message","m":3}]`, []int64{3}},
		{`[null,{"k":"bogus","m":4},{"k":"resync","m":5},{"k":"typing","m":6}]`, []int64{6}},
		{`[{"k":"message","m":7,"extra":[1,2]}]`, []int64{7}},
	} {
		t.Run(tt.payload, func(t *testing.T) {
			var got []int64
			b.deliverPayload(tt.payload, func(ev Event) { got = append(got, ev.MessageID) })
			if !slices.Equal(got, tt.want) {
				t.Fatalf("delivered %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPGBrokerPublishRefusesUnsendable(t *testing.T) {
	b, err := NewPGBroker("postgres://localhost/none", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []Event{
		{Kind: KindResync},
		{Kind: KindSessionEnded, SessionID: strings.Repeat("x", 8000)},
	} {
		if err := b.Publish(context.Background(), ev); err == nil {
			t.Fatalf("published %s event", ev.Kind)
		}
	}
	for i := 0; ; i++ {
		err := b.Publish(context.Background(), Event{Kind: KindTyping, MessageID: int64(i)})
		if errors.Is(err, ErrPublishQueueFull) {
			if i != publishQueueLimit {
				t.Fatalf("queue full after %d events, want %d", i, publishQueueLimit)
			}
			break
		}
		if err != nil || i > publishQueueLimit {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if _, err := NewPGBroker("postgres://%zz", nil); err == nil {
		t.Fatal("accepted a malformed database url")
	}
}
