package realtime

import (
	"testing"
	"time"
)

func assertTooMany(t *testing.T, s *Socket, conn *fakeConn) {
	t.Helper()
	waitClosed(t, s)
	conn.waitClosed(t)
	if code, text, ok := conn.closeFrame(); !ok || code != CloseTooManySockets || text != "too many open pages" {
		t.Fatalf("close frame %d %q (sent: %v), want %d \"too many open pages\"", code, text, ok, CloseTooManySockets)
	}
}

// One socket past MaxPerUser closes that user's oldest socket, whatever session it belongs to, and
// nobody else's.
func TestMaxPerUserClosesTheOldest(t *testing.T) {
	h := newTestHub(t, HubConfig{MaxPerUser: 3})
	other := h.Register(2, "b", newFakeConn())
	var conns []*fakeConn
	var sockets []*Socket
	for i := range 5 {
		conn := newFakeConn()
		conns = append(conns, conn)
		sockets = append(sockets, h.Register(1, string(rune('p'+i)), conn))
	}
	assertTooMany(t, sockets[0], conns[0])
	assertTooMany(t, sockets[1], conns[1])
	for _, s := range append(sockets[2:], other) {
		assertOpen(t, s)
	}
	if n := h.Count(); n != 4 {
		t.Fatalf("Count() = %d, want 4 (3 of user 1, 1 of user 2)", n)
	}
}

// One socket past MaxPerSession closes that session's oldest; the same user's other session keeps its
// sockets.
func TestMaxPerSessionClosesTheOldest(t *testing.T) {
	h := newTestHub(t, HubConfig{MaxPerUser: 10, MaxPerSession: 2})
	phone := h.Register(1, "phone", newFakeConn())
	var conns []*fakeConn
	var tabs []*Socket
	for range 3 {
		conn := newFakeConn()
		conns = append(conns, conn)
		tabs = append(tabs, h.Register(1, "laptop", conn))
	}
	assertTooMany(t, tabs[0], conns[0])
	for _, s := range []*Socket{phone, tabs[1], tabs[2]} {
		assertOpen(t, s)
	}
}

// A socket the hub closes keeps its connection until the handler's reader has seen the peer's answer
// (Unregister): dropping it at once would reset a connection the peer may still be sending on, and
// the page would see 1006 and reconnect instead of reading the code.
func TestHubCloseWaitsForThePeersAnswer(t *testing.T) {
	h := newTestHub(t, HubConfig{MaxPerUser: 1, CloseGrace: time.Minute})
	conn := newFakeConn()
	old := h.Register(1, "a", conn)
	newer := h.Register(1, "b", newFakeConn())
	t.Cleanup(func() { h.Unregister(newer) }) // before Shutdown, which would wait a minute for its peer
	waitClosed(t, old)
	conn.waitFor(t, "close frame", func(c *fakeConn) bool { return len(c.controls) > 0 })
	if code, _, _ := conn.closeFrame(); code != CloseTooManySockets {
		t.Fatalf("close frame %d, want %d", code, CloseTooManySockets)
	}
	select {
	case <-conn.closedCh:
		t.Fatal("connection dropped right after the close frame, before the peer could answer")
	case <-time.After(50 * time.Millisecond):
	}
	h.Unregister(old) // the reader saw the answer
	conn.waitClosed(t)
	conn.release()
	conn.checkViolations(t)
}
