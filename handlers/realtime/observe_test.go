package realtime

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"messenger/internal/syncbuf"
	"messenger/models"
)

// A page that goes away while its socket's writer is reading the database for it is ordinary: the
// render fails with the socket's cancelled context, and that is a DEBUG line, not an ERROR. A render
// that fails on an open socket still is an error.
func TestClosingSocketIsNoError(t *testing.T) {
	var logs syncbuf.Buffer
	h := newTestHub(t, HubConfig{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	conn := newFakeConn()
	sock := h.Register(1, "", conn)
	started := make(chan struct{})
	sock.Do(func(ctx context.Context, _ *Socket) ([]byte, error) {
		close(started)
		<-ctx.Done() // a query that the closing socket cancels
		return nil, ctx.Err()
	})
	<-started
	h.Unregister(sock) // returns once the writer has finished, and logged
	if log := logs.String(); strings.Contains(log, "level=ERROR") || !strings.Contains(log, `level=DEBUG msg="realtime: nothing written, socket closed"`) {
		t.Fatalf("a socket closing under a render: want one DEBUG line and no ERROR, got:\n%s", log)
	}

	open := h.Register(2, "", newFakeConn())
	done := make(chan struct{})
	open.Do(func(context.Context, *Socket) ([]byte, error) { return nil, context.DeadlineExceeded })
	open.Do(func(context.Context, *Socket) ([]byte, error) { close(done); return nil, nil })
	<-done
	if log := logs.String(); !strings.Contains(log, `level=ERROR msg="realtime: nothing written" user_id=2`) {
		t.Fatalf("a render failing on an open socket is not an ERROR:\n%s", log)
	}
}

// countingObserver records what the hub reports.
type countingObserver struct {
	mu        sync.Mutex
	committed []time.Time
	queueFull int
	timedOut  int
}

func (o *countingObserver) MessageWritten(committed time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.committed = append(o.committed, committed)
}

func (o *countingObserver) SlowSocketDropped(writeTimedOut bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if writeTimedOut {
		o.timedOut++
	} else {
		o.queueFull++
	}
}

func (o *countingObserver) counts() (written, queueFull, timedOut int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.committed), o.queueFull, o.timedOut
}

// timingOutConn is a peer whose every write blocks for the whole write timeout, as the network
// reports it.
type timingOutConn struct{ *fakeConn }

func (timingOutConn) WriteMessage(int, []byte) error {
	return &net.OpError{Op: "write", Net: "tcp", Err: os.ErrDeadlineExceeded}
}

// The observer hears of each message frame written, with the message's commit time, and of each
// socket dropped for slowness, by the way it fell behind; other frames and failures are not counted.
func TestObserverCountsWritesAndSlowSockets(t *testing.T) {
	obs := &countingObserver{}
	h := newTestHub(t, HubConfig{QueueSize: 2, Observer: obs})
	conn := newFakeConn()
	h.Register(1, "", conn)
	committed := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	h.Deliver(Event{Kind: KindMessage, MessageID: 1, Users: []int64{1}, Message: &models.ExtendedMessage{Message: models.Message{MessageID: 1, MessageDate: committed}}})
	h.Deliver(Event{Kind: KindTyping, Users: []int64{1}})
	conn.waitFrames(t, 2)
	if written, _, _ := obs.counts(); written != 1 || !obs.committed[0].Equal(committed) {
		t.Fatalf("written frames observed: %v, want one at %v", obs.committed, committed)
	}

	stuck := newFakeConn()
	stuck.block = true
	slow := h.Register(2, "", stuck)
	for id := int64(1); id <= 4; id++ { // one in the stuck write, two queued, one too many
		h.Deliver(messageEvent(id, 2))
	}
	waitClosed(t, slow)
	late := h.Register(3, "", timingOutConn{newFakeConn()})
	h.Deliver(messageEvent(5, 3))
	waitClosed(t, late)
	eventually(t, "both slow sockets counted", func() bool {
		_, queueFull, timedOut := obs.counts()
		return queueFull == 1 && timedOut == 1
	})
	h.Unregister(slow)
	stuck.release()
	h.Unregister(late)
}
