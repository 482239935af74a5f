package realtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Broker carries events from the instance that committed a change to every
// instance's hub, this one included. A push is only a hint: sockets catch up
// from the database, so an event may be late or repeated but must not be
// the only record of anything.
type Broker interface {
	// Publish queues ev for every instance; call it after the database
	// commit. It does not wait for delivery and fails fast when overloaded.
	Publish(ctx context.Context, ev Event) error
	// Run delivers events to deliver, in publish order, until ctx is done;
	// then it returns nil. Call it once.
	Run(ctx context.Context, deliver func(Event)) error
}

// TxNotifier is a Broker whose events a database transaction can send
// itself, so that they commit with the change they announce (PostgreSQL:
// pg_notify inside the transaction). Run still delivers them.
type TxNotifier interface {
	Broker
	// Notifications encodes events as payloads of notifications on channel.
	Notifications(events []Event) (channel string, payloads []string)
}

// publishQueueLimit bounds the events waiting to leave a broker, so a broker
// that cannot deliver sheds load instead of growing without end.
const publishQueueLimit = 10_000

// ErrPublishQueueFull means the broker is not keeping up (for PostgreSQL,
// usually because the database is unreachable).
var ErrPublishQueueFull = errors.New("realtime: publish queue full")

// checkPublishable refuses kinds that must not travel between instances.
func checkPublishable(ev Event) error {
	switch ev.Kind {
	case KindMessage, KindChange, KindRead, KindPresence, KindTyping, KindUser, KindProfile, KindSessionEnded:
		return nil
	default:
		return fmt.Errorf("realtime: event kind %q cannot be published", ev.Kind)
	}
}

type localBroker struct {
	queue *queue[Event]
}

// NewLocalBroker returns a broker for a single instance. Delivery runs on
// Run's goroutine, so a deliver func may itself publish without deadlocking.
func NewLocalBroker() Broker {
	return &localBroker{queue: newQueue[Event](publishQueueLimit)}
}

func (b *localBroker) Publish(ctx context.Context, ev Event) error {
	if err := checkPublishable(ev); err != nil {
		return err
	}
	// The caller may reuse its slice once Publish returns.
	ev.Users = slices.Clone(ev.Users)
	if !b.queue.push(ev) {
		return ErrPublishQueueFull
	}
	return nil
}

func (b *localBroker) Run(ctx context.Context, deliver func(Event)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-b.queue.ready():
		}
		for _, ev := range b.queue.take() {
			deliver(ev)
		}
	}
}
