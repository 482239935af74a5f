package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	notifyChannel = "messenger_events"
	// PostgreSQL rejects notification payloads of 8,000 bytes or more.
	maxPayload = 7500

	minRetryDelay = 100 * time.Millisecond
	maxRetryDelay = 5 * time.Second
	notifyTimeout = 5 * time.Second
	// flushTimeout bounds the last publish attempt at shutdown.
	flushTimeout = 2 * time.Second
)

type pgBroker struct {
	config *pgx.ConnConfig
	log    *slog.Logger
	// queue holds encoded events, each small enough for a payload on its own.
	queue *queue[[]byte]
}

// NewPGBroker returns a broker for several instances sharing one PostgreSQL
// database, over LISTEN/NOTIFY on the channel messenger_events. Run holds two
// connections of its own: one listening, one publishing. Notifications are
// sent outside the app's transactions because a NOTIFY inside one takes a
// global lock at commit that serialises every commit in the database; the
// exception is a batch of messages (see TxNotifier), whose one NOTIFY per
// group commit is worth the lock.
func NewPGBroker(databaseURL string, logger *slog.Logger) (Broker, error) {
	config, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("realtime: parse database url: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &pgBroker{config: config, log: logger, queue: newQueue[[]byte](publishQueueLimit)}, nil
}

// Publish encodes ev now, so an event that can never be sent is refused to
// its publisher rather than dropped later.
func (b *pgBroker) Publish(ctx context.Context, ev Event) error {
	encoded, err := encodePublishable(ev)
	if err != nil {
		return err
	}
	if !b.queue.push(encoded...) {
		return ErrPublishQueueFull
	}
	return nil
}

func encodePublishable(ev Event) ([][]byte, error) {
	if err := checkPublishable(ev); err != nil {
		return nil, err
	}
	return encodeEvent(ev)
}

// encodeEvent returns ev as JSON; an event too big for one payload is split
// into events for parts of its Users, which the hub delivers identically.
func encodeEvent(ev Event) ([][]byte, error) {
	if ev.Kind == KindMessage && ev.Message != nil && ev.Carried == nil {
		withMessage := ev
		withMessage.Carried = ev.Message
		if data, err := json.Marshal(withMessage); err == nil && len("[]")+len(data) <= maxPayload {
			return [][]byte{data}, nil
		}
		// A long message goes by id: each instance reads it once.
	}
	ev.Carried = nil
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("realtime: encode %s event: %w", ev.Kind, err)
	}
	if len("[]")+len(data) <= maxPayload {
		return [][]byte{data}, nil
	}
	if len(ev.Users) < 2 {
		return nil, fmt.Errorf("realtime: %s event of %d bytes does not fit a notification", ev.Kind, len(data))
	}
	first, second := ev, ev
	half := len(ev.Users) / 2
	first.Users, second.Users = ev.Users[:half], ev.Users[half:]
	a, err := encodeEvent(first)
	if err != nil {
		return nil, err
	}
	z, err := encodeEvent(second)
	if err != nil {
		return nil, err
	}
	return append(a, z...), nil
}

// Notifications encodes events as the payloads of notifications on the broker's channel, for a
// database transaction to send itself (pg_notify) so that they commit with it. Events that cannot
// be encoded are logged and left out.
func (b *pgBroker) Notifications(events []Event) (channel string, payloads []string) {
	var encoded [][]byte
	for _, ev := range events {
		e, err := encodePublishable(ev)
		if err != nil {
			b.log.Warn("realtime: event left out of a notification", "err", err)
			continue
		}
		encoded = append(encoded, e...)
	}
	for len(encoded) > 0 {
		payload, n := nextBatch(encoded)
		payloads = append(payloads, payload)
		encoded = encoded[n:]
	}
	return notifyChannel, payloads
}

// nextBatch joins as many leading events as fit into one payload, a JSON
// array, and says how many it took (at least one: each fits alone).
func nextBatch(events [][]byte) (string, int) {
	var b strings.Builder
	b.WriteByte('[')
	n := 0
	for _, e := range events {
		if n > 0 && b.Len()+len(",")+len(e)+len("]") > maxPayload {
			break
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(e)
		n++
	}
	b.WriteByte(']')
	return b.String(), n
}

func (b *pgBroker) Run(ctx context.Context, deliver func(Event)) error {
	var wg sync.WaitGroup
	wg.Go(func() { b.publish(ctx) })
	b.listen(ctx, deliver)
	wg.Wait()
	return nil
}

// listen keeps a LISTEN connection up. Notifications sent while it was down
// are gone for good, so after every reconnect it delivers KindResync and the
// sockets catch up from the database.
func (b *pgBroker) listen(ctx context.Context, deliver func(Event)) {
	retry := newBackoff(minRetryDelay, maxRetryDelay)
	missed := false
	for {
		err := b.listenOnce(ctx, deliver, func() {
			retry.reset()
			if missed {
				deliver(Event{Kind: KindResync})
				missed = false
			}
		})
		if ctx.Err() != nil {
			return
		}
		missed = true
		b.log.Warn("realtime: listen connection lost, reconnecting", "err", err)
		if !retry.wait(ctx.Done()) {
			return
		}
	}
}

// listenOnce connects, listens, calls listening, and delivers notifications
// until the connection fails or ctx is done.
func (b *pgBroker) listenOnce(ctx context.Context, deliver func(Event), listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, b.config)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer closeConn(conn)
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		b.deliverPayload(n.Payload, deliver)
	}
}

// deliverPayload decodes defensively: anyone with access to the database can
// notify the channel, and a bad entry must not cost the good ones.
func (b *pgBroker) deliverPayload(payload string, deliver func(Event)) {
	var entries []json.RawMessage
	if err := json.Unmarshal([]byte(payload), &entries); err != nil {
		b.log.Warn("realtime: notification skipped", "err", err, "bytes", len(payload))
		return
	}
	for _, entry := range entries {
		var ev Event
		if err := json.Unmarshal(entry, &ev); err != nil {
			b.log.Warn("realtime: event skipped", "err", err)
			continue
		}
		if err := checkPublishable(ev); err != nil {
			b.log.Warn("realtime: event skipped", "err", err)
			continue
		}
		if ev.Kind == KindMessage && ev.Carried != nil && ev.Carried.MessageID == ev.MessageID {
			ev.Message = ev.Carried
		}
		ev.Carried = nil
		deliver(ev)
	}
}

// publish is the only sender, so batches leave in publish order; it sends
// whatever accumulated while the previous batch was in flight as one
// notification, which keeps a burst from costing a round trip per event.
func (b *pgBroker) publish(ctx context.Context) {
	n := &notifier{config: b.config}
	defer n.close()
	b.flush(n, b.publishUntilDone(ctx, n))
}

// publishUntilDone returns what it had taken but not yet sent when ctx ended.
func (b *pgBroker) publishUntilDone(ctx context.Context, n *notifier) [][]byte {
	retry := newBackoff(minRetryDelay, maxRetryDelay)
	var pending [][]byte
	for {
		if ctx.Err() != nil {
			return pending
		}
		if len(pending) == 0 {
			// Taking only once pending is empty keeps the queue limit
			// meaningful while the database is away.
			select {
			case <-ctx.Done():
				return nil
			case <-b.queue.ready():
			}
			pending = b.queue.take()
			continue
		}
		payload, count := nextBatch(pending)
		// Not cancelled with ctx: a notify cut off in flight may have been
		// sent all the same, and flush would send it twice.
		if err := n.send(context.WithoutCancel(ctx), payload); err != nil {
			// Retried rather than dropped: no resync would tell the other
			// instances that a notification never left.
			b.log.Warn("realtime: notify failed, retrying", "err", err, "events", count)
			if !retry.wait(ctx.Done()) {
				return pending
			}
			continue
		}
		retry.reset()
		pending = pending[count:]
	}
}

// flush makes one short attempt to send what was published just before
// shutdown; otherwise its recipients on other instances would see it only
// after their next reconnect.
func (b *pgBroker) flush(n *notifier, pending [][]byte) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	pending = append(pending, b.queue.take()...)
	for len(pending) > 0 {
		payload, count := nextBatch(pending)
		if err := n.send(ctx, payload); err != nil {
			b.log.Warn("realtime: events not sent at shutdown", "err", err, "events", len(pending))
			return
		}
		pending = pending[count:]
	}
}

// notifier owns the publishing connection and replaces it after any failure.
type notifier struct {
	config *pgx.ConnConfig
	conn   *pgx.Conn
}

func (n *notifier) send(ctx context.Context, payload string) error {
	ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	if n.conn == nil {
		conn, err := pgx.ConnectConfig(ctx, n.config)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		n.conn = conn
	}
	if _, err := n.conn.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, payload); err != nil {
		n.close()
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

func (n *notifier) close() {
	if n.conn != nil {
		closeConn(n.conn)
		n.conn = nil
	}
}

// closeConn says goodbye to the server if it can do so quickly.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Close(ctx)
}

// backoff doubles a retry delay between a floor and a ceiling.
type backoff struct {
	floor, ceiling, next time.Duration
}

func newBackoff(floor, ceiling time.Duration) *backoff {
	return &backoff{floor: floor, ceiling: ceiling, next: floor}
}

// wait sleeps for the current delay and doubles it; false if done closed first.
func (b *backoff) wait(done <-chan struct{}) bool {
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, b.ceiling)
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

func (b *backoff) reset() { b.next = b.floor }
