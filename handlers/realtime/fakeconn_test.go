package realtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitTimeout bounds every wait in these tests; reaching it fails the test.
const waitTimeout = 10 * time.Second

var (
	errConnClosed  = errors.New("fake conn closed")
	errWriteFailed = errors.New("fake write failed")
)

type controlFrame struct {
	kind int
	data []byte
}

// fakeConn records what the hub writes and reports misuse: two writes at once
// (fasthttp/websocket would panic) or any use after Unregister returned.
type fakeConn struct {
	block         bool          // writes hang until Close, like a peer that stopped reading
	hold          chan struct{} // when set, writes wait until it is closed, like a slow peer
	failWrites    bool
	failControls  bool
	writing       atomic.Int32
	closedCh      chan struct{}
	closeOnce     sync.Once
	mu            sync.Mutex
	changed       chan struct{} // closed and replaced on every change
	frames        []string      // what the page applies, in order: the messages split at each "\n"
	messages      int           // WebSocket messages written
	blocked       int           // writes hanging on a blocked conn
	controls      []controlFrame
	closed        bool
	released      bool
	violations    []string
	writeDeadline time.Time
}

func newFakeConn() *fakeConn {
	return &fakeConn{closedCh: make(chan struct{}), changed: make(chan struct{})}
}

// notifyLocked wakes waiters; c.mu must be held.
func (c *fakeConn) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *fakeConn) violate(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.violations = append(c.violations, fmt.Sprintf(format, args...))
	c.notifyLocked()
}

// beginWrite flags overlapping writes; the returned func ends the write.
func (c *fakeConn) beginWrite(op string) func() {
	if c.writing.Add(1) > 1 {
		c.violate("concurrent %s", op)
	}
	c.mu.Lock()
	if c.released {
		c.violations = append(c.violations, op+" after Unregister returned")
	}
	c.mu.Unlock()
	return func() { c.writing.Add(-1) }
}

func (c *fakeConn) WriteMessage(messageType int, data []byte) error {
	defer c.beginWrite("WriteMessage")()
	if c.block {
		c.mu.Lock()
		c.blocked++
		c.notifyLocked()
		c.mu.Unlock()
		<-c.closedCh
		return errConnClosed
	}
	if c.hold != nil {
		c.mu.Lock()
		c.blocked++
		c.notifyLocked()
		c.mu.Unlock()
		<-c.hold
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return errConnClosed
	case c.failWrites:
		return errWriteFailed
	case messageType != textMessage:
		c.violations = append(c.violations, fmt.Sprintf("message type %d", messageType))
	}
	if c.writeDeadline.IsZero() {
		c.violations = append(c.violations, "WriteMessage without a write deadline")
	}
	// The test renderers end each frame with "\n"; the hub may send several in one message.
	c.frames = append(c.frames, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	c.messages++
	c.notifyLocked()
	return nil
}

func (c *fakeConn) WriteControl(messageType int, data []byte, deadline time.Time) error {
	defer c.beginWrite("WriteControl")()
	if c.block {
		<-c.closedCh
		return errConnClosed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return errConnClosed
	case c.failControls:
		return errWriteFailed
	case deadline.IsZero():
		c.violations = append(c.violations, "WriteControl without a deadline")
	}
	c.controls = append(c.controls, controlFrame{kind: messageType, data: append([]byte(nil), data...)})
	c.notifyLocked()
	return nil
}

func (c *fakeConn) SetWriteDeadline(t time.Time) error {
	defer c.beginWrite("SetWriteDeadline")()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeDeadline = t
	return nil
}

func (c *fakeConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released {
		c.violations = append(c.violations, "Close after Unregister returned")
	}
	c.closed = true
	c.closeOnce.Do(func() { close(c.closedCh) })
	c.notifyLocked()
	return nil
}

// release marks the conn as handed back to its handler: the hub must not
// touch it any more.
func (c *fakeConn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released = true
}

// waitFor fails the test unless cond (called with c.mu held) becomes true.
func (c *fakeConn) waitFor(t *testing.T, what string, cond func(c *fakeConn) bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok, changed := cond(c), c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (c *fakeConn) waitFrames(t *testing.T, n int) {
	t.Helper()
	c.waitFor(t, fmt.Sprintf("%d frames", n), func(c *fakeConn) bool { return len(c.frames) >= n })
}

// counts returns how many frames and WebSocket messages were written.
func (c *fakeConn) counts() (frames, messages int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.frames), c.messages
}

// waitBlocked waits until a write hangs on this blocked conn.
func (c *fakeConn) waitBlocked(t *testing.T) {
	t.Helper()
	c.waitFor(t, "a blocked write", func(c *fakeConn) bool { return c.blocked > 0 })
}

func (c *fakeConn) waitClosed(t *testing.T) {
	t.Helper()
	c.waitFor(t, "conn closed", func(c *fakeConn) bool { return c.closed })
}

func (c *fakeConn) snapshot() (frames []string, controls []controlFrame, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.frames...), append([]controlFrame(nil), c.controls...), c.closed
}

func (c *fakeConn) checkViolations(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.violations {
		t.Error(v)
	}
}

// closeFrame returns the code and text of the close frame sent, if any.
func (c *fakeConn) closeFrame() (code int, text string, ok bool) {
	_, controls, _ := c.snapshot()
	for _, f := range controls {
		if f.kind == closeMessage && len(f.data) >= 2 {
			return int(binary.BigEndian.Uint16(f.data)), string(f.data[2:]), true
		}
	}
	return 0, "", false
}

// eventually polls cond for state that has no change signal (the hub's counts).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitClosed(t *testing.T, s *Socket) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(waitTimeout):
		t.Fatalf("socket of user %d not closed", s.UserID)
	}
}

func assertOpen(t *testing.T, s *Socket) {
	t.Helper()
	select {
	case <-s.Done():
		t.Fatalf("socket of user %d closed", s.UserID)
	default:
	}
}
