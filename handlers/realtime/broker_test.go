package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
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
