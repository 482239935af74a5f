package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"messenger/internal/syncbuf"
)

// The connection handed to a Fiber websocket handler must fit the hub.
var _ Conn = (*websocket.Conn)(nil)

func renderKindAndID(_ context.Context, _ *Socket, ev Event) ([]byte, error) {
	return fmt.Appendf(nil, "%s:%d\n", ev.Kind, ev.MessageID), nil
}

// newTestHub fills in a renderer and shuts the hub down after the test.
func newTestHub(t *testing.T, cfg HubConfig) *Hub {
	t.Helper()
	if cfg.Render == nil {
		cfg.Render = renderKindAndID
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if cfg.CloseGrace == 0 {
		cfg.CloseGrace = 10 * time.Millisecond // a fake peer never answers a close frame
	}
	h := NewHub(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		h.Shutdown(ctx)
	})
	return h
}

func messageEvent(id int64, users ...int64) Event {
	return Event{Kind: KindMessage, MessageID: id, Users: users}
}

// fakeTimers replaces time.AfterFunc so tests decide when a grace ends.
type fakeTimers struct {
	scheduled chan *fakeTimer
}

type fakeTimer struct {
	d       time.Duration
	fire    func()
	mu      sync.Mutex
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	wasActive := !t.stopped
	t.stopped = true
	return wasActive
}

func (t *fakeTimer) isStopped() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stopped
}

func installFakeTimers(h *Hub) *fakeTimers {
	ft := &fakeTimers{scheduled: make(chan *fakeTimer, 10_000)}
	h.afterFunc = func(d time.Duration, f func()) stopper {
		timer := &fakeTimer{d: d, fire: f}
		ft.scheduled <- timer
		return timer
	}
	return ft
}

func (ft *fakeTimers) next(t *testing.T) *fakeTimer {
	t.Helper()
	select {
	case timer := <-ft.scheduled:
		return timer
	case <-time.After(waitTimeout):
		t.Fatal("no offline timer scheduled")
		return nil
	}
}

func (ft *fakeTimers) none(t *testing.T) {
	t.Helper()
	select {
	case timer := <-ft.scheduled:
		t.Fatalf("unexpected offline timer of %v", timer.d)
	default:
	}
}

type presenceCall struct {
	userID int64
	online bool
}

func recordPresence(cfg *HubConfig) chan presenceCall {
	calls := make(chan presenceCall, 100_000)
	cfg.OnPresence = func(userID int64, online bool) { calls <- presenceCall{userID, online} }
	return calls
}

func nextPresence(t *testing.T, calls <-chan presenceCall) presenceCall {
	t.Helper()
	select {
	case c := <-calls:
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no presence callback")
		return presenceCall{}
	}
}

// parseFrames splits "kind:id" frames by kind.
func parseFrames(t *testing.T, frames []string) map[string][]int64 {
	t.Helper()
	byKind := make(map[string][]int64)
	for _, f := range frames {
		kind, id, ok := strings.Cut(f, ":")
		n, err := strconv.ParseInt(id, 10, 64)
		if !ok || err != nil {
			t.Fatalf("unexpected frame %q", f)
		}
		byKind[kind] = append(byKind[kind], n)
	}
	return byKind
}

func TestHubManySocketsConcurrently(t *testing.T) {
	const (
		users          = 250
		socketsPerUser = 20
		churnSockets   = 1000
		churnWorkers   = 10
		churnUser      = 1_000_000
		broadcasts     = 40
		directs        = 300
	)
	// The default queue: no socket gets more events than it holds.
	cfg := HubConfig{}
	presence := recordPresence(&cfg)
	h := newTestHub(t, cfg)
	timers := installFakeTimers(h)

	type registered struct {
		socket *Socket
		conn   *fakeConn
	}
	var (
		mu      sync.Mutex
		sockets []registered
		churned []*fakeConn
		wg      sync.WaitGroup
	)
	for worker := range 50 {
		wg.Go(func() {
			for i := range users * socketsPerUser / 50 {
				conn := newFakeConn()
				s := h.Register(int64(1+(worker*7+i)%users), fmt.Sprintf("session-%d-%d", worker, i), conn)
				mu.Lock()
				sockets = append(sockets, registered{s, conn})
				mu.Unlock()
			}
		})
	}
	for worker := range churnWorkers {
		wg.Go(func() {
			for range churnSockets / churnWorkers {
				conn := newFakeConn()
				s := h.Register(churnUser+int64(worker), "churn", conn)
				h.Deliver(messageEvent(0, s.UserID))
				h.Unregister(s)
				conn.release()
				mu.Lock()
				churned = append(churned, conn)
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for id := range int64(broadcasts) {
			h.Deliver(Event{Kind: KindPresence, MessageID: id + 1})
		}
	})
	wg.Go(func() {
		for id := range int64(directs) {
			h.Deliver(Event{Kind: KindTyping, MessageID: id + 1, Users: []int64{1 + id%users, 1 + (id+1)%users}})
		}
	})
	wg.Wait()

	if got := h.Count(); got != users*socketsPerUser {
		t.Fatalf("Count() = %d, want %d", got, users*socketsPerUser)
	}
	if got := len(h.OnlineUsers()); got != users {
		t.Fatalf("%d users online, want %d", got, users)
	}
	// Everything delivered before the barrier is written before it.
	h.Deliver(Event{Kind: KindResync})
	for _, r := range sockets {
		r.conn.waitFor(t, "the barrier", func(c *fakeConn) bool {
			return len(c.frames) > 0 && c.frames[len(c.frames)-1] == "resync:0"
		})
		assertOpen(t, r.socket)
		frames, _, _ := r.conn.snapshot()
		byKind := parseFrames(t, frames)
		for _, kind := range []string{"presence", "typing"} {
			if ids := byKind[kind]; !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
				t.Fatalf("user %d got %s events out of order or twice: %v", r.socket.UserID, kind, ids)
			}
		}
		if len(byKind["message"]) > 0 {
			t.Fatalf("user %d got another socket's churn event", r.socket.UserID)
		}
	}

	// Churn users come and go within the grace: online once, never offline.
	for range users + churnWorkers {
		if c := nextPresence(t, presence); !c.online {
			t.Fatalf("user %d reported offline within the grace", c.userID)
		}
	}

	for _, r := range sockets {
		wg.Go(func() {
			h.Unregister(r.socket)
			h.Unregister(r.socket)
			r.conn.release()
		})
	}
	wg.Wait()
	h.Deliver(Event{Kind: KindResync})
	if got := h.Count(); got != 0 {
		t.Fatalf("Count() = %d after unregistering all", got)
	}
	if got := h.OnlineUsers(); len(got) != 0 {
		t.Fatalf("still online: %v", got)
	}
	for _, r := range sockets {
		if _, _, closed := r.conn.snapshot(); !closed {
			t.Fatal("a conn was left open")
		}
		r.conn.checkViolations(t)
	}
	for _, conn := range churned {
		conn.checkViolations(t)
	}

	// End every grace, including those a reconnect cancelled: each user must
	// be reported offline exactly once.
	for len(timers.scheduled) > 0 {
		(<-timers.scheduled).fire()
	}
	offline := make(map[int64]bool)
	for range users + churnWorkers {
		c := nextPresence(t, presence)
		if c.online || offline[c.userID] {
			t.Fatalf("unexpected presence call %+v", c)
		}
		offline[c.userID] = true
	}
	h.Register(-1, "barrier", newFakeConn())
	if c := nextPresence(t, presence); c != (presenceCall{-1, true}) {
		t.Fatalf("unexpected presence call %+v", c)
	}
}

func TestSlowSocketIsClosedOthersUnaffected(t *testing.T) {
	const queueSize, events = 4, 20
	var logs syncbuf.Buffer
	h := newTestHub(t, HubConfig{QueueSize: queueSize, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	slowConn := newFakeConn()
	slowConn.block = true
	slow := h.Register(1, "slow", slowConn)
	var fast []*fakeConn
	for user := int64(2); user <= 4; user++ {
		conn := newFakeConn()
		h.Register(user, "fast", conn)
		fast = append(fast, conn)
	}

	for id := int64(1); id <= events; id++ {
		h.Deliver(messageEvent(id))
		if id == 1 {
			slowConn.waitBlocked(t) // its writer holds event 1 alone; what follows queues
		}
		// Wait so only the blocked socket can fall behind.
		for _, conn := range fast {
			conn.waitFrames(t, int(id))
		}
		if id == queueSize+2 {
			// One event in the stuck write, queueSize queued, this one overflowed.
			waitClosed(t, slow)
		}
	}

	slowConn.waitClosed(t)
	if online(h, 1) || h.Count() != 3 {
		t.Fatalf("slow socket still registered: online=%v count=%d", online(h, 1), h.Count())
	}
	if !strings.Contains(logs.String(), "closing slow socket") || !strings.Contains(logs.String(), "user_id=1") {
		t.Fatalf("slow socket not logged; log:\n%s", logs.String())
	}
	want := make([]string, events)
	for i := range want {
		want[i] = fmt.Sprintf("message:%d", i+1)
	}
	for _, conn := range fast {
		if frames, _, _ := conn.snapshot(); !slices.Equal(frames, want) {
			t.Fatalf("fast socket got %v, want %v", frames, want)
		}
		conn.checkViolations(t)
	}
	h.Unregister(slow)
	slowConn.release()
	slowConn.checkViolations(t)
}

func TestDeadSocketIsClosedAndUnregistered(t *testing.T) {
	h := newTestHub(t, HubConfig{})
	deadConn := newFakeConn()
	deadConn.failWrites = true
	dead := h.Register(1, "a", deadConn)
	liveConn := newFakeConn()
	live := h.Register(2, "b", liveConn)

	h.Deliver(messageEvent(1, 1, 2))
	waitClosed(t, dead)
	deadConn.waitClosed(t)
	if online(h, 1) || !online(h, 2) || h.Count() != 1 {
		t.Fatalf("after a failed write: online(1)=%v online(2)=%v count=%d", online(h, 1), online(h, 2), h.Count())
	}
	if dead.Do(frameFunc("late")) {
		t.Fatal("Do on a closed socket reported success")
	}
	h.Deliver(messageEvent(2, 1, 2))
	liveConn.waitFrames(t, 2)
	if frames, _, _ := liveConn.snapshot(); !slices.Equal(frames, []string{"message:1", "message:2"}) {
		t.Fatalf("live socket got %v", frames)
	}
	assertOpen(t, live)
	h.Unregister(dead)
	deadConn.release()
	deadConn.checkViolations(t)
}

func TestWriterRunsDoInOrderWithEvents(t *testing.T) {
	errRender := errors.New("render failed")
	// Both funcs use State without locks: the race detector fails the test
	// if they ever run on different goroutines without synchronisation.
	step := func(s *Socket, what string) []byte {
		n, _ := s.State.(int)
		n++
		s.State = n
		return fmt.Appendf(nil, "%d:%s\n", n, what)
	}
	h := newTestHub(t, HubConfig{Render: func(_ context.Context, s *Socket, ev Event) ([]byte, error) {
		switch ev.MessageID {
		case -1:
			return nil, errRender
		case 0:
			return nil, nil
		}
		return step(s, fmt.Sprintf("message %d", ev.MessageID)), nil
	}})
	conn := newFakeConn()
	s := h.Register(1, "a", conn)
	do := func(what string) func(context.Context, *Socket) ([]byte, error) {
		return func(_ context.Context, s *Socket) ([]byte, error) { return step(s, what), nil }
	}

	h.Deliver(messageEvent(1, 1))
	s.Do(do("do a"))
	h.Deliver(messageEvent(-1, 1))
	h.Deliver(messageEvent(0, 1))
	s.Do(frameFunc("raw"))
	s.Do(func(context.Context, *Socket) ([]byte, error) { return nil, errRender })
	h.Deliver(messageEvent(2, 1))
	if !s.Do(do("do b")) {
		t.Fatal("Do on an open socket failed")
	}

	want := []string{"1:message 1", "2:do a", "raw", "3:message 2", "4:do b"}
	conn.waitFrames(t, len(want))
	if frames, _, _ := conn.snapshot(); !slices.Equal(frames, want) {
		t.Fatalf("frames %q, want %q", frames, want)
	}
	assertOpen(t, s)
	h.Unregister(s)
	conn.release()
	conn.checkViolations(t)
}

func TestPresenceGrace(t *testing.T) {
	const grace = 4 * time.Second
	cfg := HubConfig{OfflineGrace: grace}
	calls := recordPresence(&cfg)
	h := newTestHub(t, cfg)
	timers := installFakeTimers(h)
	register := func(user int64) *Socket { return h.Register(user, "s", newFakeConn()) }
	expect := func(want presenceCall) {
		t.Helper()
		if got := nextPresence(t, calls); got != want {
			t.Fatalf("presence call %+v, want %+v", got, want)
		}
	}

	first := register(1)
	expect(presenceCall{1, true})
	second := register(1)
	h.Unregister(first)
	timers.none(t)
	h.Unregister(second)
	timer := timers.next(t)
	if timer.d != grace {
		t.Fatalf("offline reported after %v, want %v", timer.d, grace)
	}
	if online(h, 1) {
		t.Fatal("user 1 online without sockets")
	}
	timer.fire()
	expect(presenceCall{1, false})

	third := register(1)
	expect(presenceCall{1, true})
	h.Unregister(third)
	timer = timers.next(t)
	fourth := register(1)
	if !timer.isStopped() {
		t.Fatal("reconnect within the grace left the offline timer running")
	}
	// Fired anyway, as a timer that had already expired would be.
	timer.fire()
	// User 2's call comes next only if user 1 caused none in between.
	register(2)
	expect(presenceCall{2, true})
	h.Unregister(fourth)
}

func TestPresenceOfflineAfterRealGrace(t *testing.T) {
	const grace = 100 * time.Millisecond
	cfg := HubConfig{OfflineGrace: grace}
	calls := recordPresence(&cfg)
	h := newTestHub(t, cfg)

	s := h.Register(7, "s", newFakeConn())
	if c := nextPresence(t, calls); c != (presenceCall{7, true}) {
		t.Fatalf("got %+v, want user 7 online", c)
	}
	closed := time.Now()
	h.Unregister(s)
	if c := nextPresence(t, calls); c != (presenceCall{7, false}) {
		t.Fatalf("got %+v, want user 7 offline", c)
	}
	if elapsed := time.Since(closed); elapsed < grace {
		t.Fatalf("offline reported after %v, before the %v grace", elapsed, grace)
	}
}

func TestSessionEndedClosesOnlyThatSession(t *testing.T) {
	h := newTestHub(t, HubConfig{})
	type entry struct {
		socket *Socket
		conn   *fakeConn
		ended  bool
	}
	var entries []entry
	for _, e := range []struct {
		user    int64
		session string
		ended   bool
	}{{1, "a", true}, {1, "a", true}, {1, "b", false}, {2, "c", false}} {
		conn := newFakeConn()
		entries = append(entries, entry{h.Register(e.user, e.session, conn), conn, e.ended})
	}

	h.Deliver(Event{Kind: KindSessionEnded, SessionID: "a"})
	for _, e := range entries {
		if !e.ended {
			continue
		}
		waitClosed(t, e.socket)
		e.conn.waitClosed(t)
		if code, text, ok := e.conn.closeFrame(); !ok || code != 1008 || text != "session ended" {
			t.Fatalf("close frame %d %q (sent: %v), want 1008 \"session ended\"", code, text, ok)
		}
	}
	h.Deliver(messageEvent(1, 1, 2))
	for _, e := range entries {
		if e.ended {
			continue
		}
		assertOpen(t, e.socket)
		e.conn.waitFrames(t, 1)
	}
	if h.Count() != 2 || !online(h, 1) {
		t.Fatalf("count=%d online(1)=%v after ending one session", h.Count(), online(h, 1))
	}
	for _, e := range entries {
		h.Unregister(e.socket)
		e.conn.release()
		e.conn.checkViolations(t)
	}
}

func TestShutdownClosesWith1012(t *testing.T) {
	h := newTestHub(t, HubConfig{})
	var conns []*fakeConn
	var sockets []*Socket
	for user := range int64(3) {
		conn := newFakeConn()
		conns = append(conns, conn)
		sockets = append(sockets, h.Register(user, "s", conn))
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	h.Shutdown(ctx)
	late := newFakeConn()
	conns = append(conns, late)
	sockets = append(sockets, h.Register(9, "s", late))

	for i, conn := range conns {
		waitClosed(t, sockets[i])
		conn.waitClosed(t)
		if code, text, ok := conn.closeFrame(); !ok || code != 1012 || text != "service restart" {
			t.Fatalf("conn %d: close frame %d %q (sent: %v), want 1012", i, code, text, ok)
		}
	}
	if h.Count() != 0 {
		t.Fatalf("Count() = %d after Shutdown", h.Count())
	}
	for i, s := range sockets {
		h.Unregister(s)
		conns[i].release()
		conns[i].checkViolations(t)
	}
}

func TestShutdownGivesUpOnStuckWriterWhenContextEnds(t *testing.T) {
	h := newTestHub(t, HubConfig{})
	conn := newFakeConn()
	conn.block = true
	s := h.Register(1, "s", conn)
	s.Do(frameFunc("stuck"))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	returned := make(chan struct{})
	go func() {
		h.Shutdown(ctx)
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(waitTimeout):
		t.Fatal("Shutdown did not return after its context ended")
	}
	conn.waitClosed(t)
	h.Unregister(s)
	conn.release()
	conn.checkViolations(t)
}

func TestPing(t *testing.T) {
	h := newTestHub(t, HubConfig{PingInterval: 5 * time.Millisecond})
	conn := newFakeConn()
	s := h.Register(1, "s", conn)
	conn.waitFor(t, "two pings", func(c *fakeConn) bool {
		pings := 0
		for _, f := range c.controls {
			if f.kind == pingMessage {
				pings++
			}
		}
		return pings >= 2
	})
	h.Unregister(s)
	conn.release()
	conn.checkViolations(t)

	deadConn := newFakeConn()
	deadConn.failControls = true
	dead := h.Register(2, "s", deadConn)
	waitClosed(t, dead)
	deadConn.waitClosed(t)
	if online(h, 2) {
		t.Fatal("socket whose ping failed is still registered")
	}
	h.Unregister(dead)
}

// An idle socket keeps no writer goroutine: a writer starts when something is queued and ends when
// the queue is empty, and the next event starts another.
func TestIdleSocketsKeepNoWriter(t *testing.T) {
	h := newTestHub(t, HubConfig{})
	const n = 200
	before := runtime.NumGoroutine()
	conns := make([]*fakeConn, n)
	sockets := make([]*Socket, n)
	for i := range n {
		conns[i] = newFakeConn()
		sockets[i] = h.Register(int64(i+1), "s"+strconv.Itoa(i), conns[i])
	}
	for round := 1; round <= 2; round++ {
		for i := range n {
			h.Deliver(messageEvent(int64(round), int64(i+1)))
		}
		for _, c := range conns {
			c.waitFrames(t, round)
		}
		eventually(t, "the writers of idle sockets to end", func() bool { return runtime.NumGoroutine() < before+n/10 })
	}
	for i, s := range sockets {
		h.Unregister(s)
		conns[i].release()
		conns[i].checkViolations(t)
	}
}

func TestDeliverToUsersOnce(t *testing.T) {
	h := newTestHub(t, HubConfig{})
	conns := map[int64][]*fakeConn{}
	for _, user := range []int64{1, 1, 2, 3} {
		conn := newFakeConn()
		h.Register(user, "s", conn)
		conns[user] = append(conns[user], conn)
	}
	// A note to oneself names the same user twice.
	h.Deliver(messageEvent(1, 1, 1))
	h.Deliver(messageEvent(2, 2))
	h.Deliver(messageEvent(3, 999))
	h.Deliver(messageEvent(4))

	want := map[int64][]string{
		1: {"message:1", "message:4"},
		2: {"message:2", "message:4"},
		3: {"message:4"},
	}
	for user, userConns := range conns {
		for _, conn := range userConns {
			conn.waitFrames(t, len(want[user]))
			if frames, _, _ := conn.snapshot(); !slices.Equal(frames, want[user]) {
				t.Fatalf("user %d got %v, want %v", user, frames, want[user])
			}
		}
	}
}

// online reports whether the hub lists the user among those with a socket here.
func online(h *Hub, userID int64) bool {
	return slices.Contains(h.OnlineUsers(), userID)
}

// frameFunc is a socket func that writes a fixed frame.
func frameFunc(frame string) func(context.Context, *Socket) ([]byte, error) {
	return func(context.Context, *Socket) ([]byte, error) { return []byte(frame + "\n"), nil }
}

// A socket that falls behind catches up in fewer, larger messages: what queued while a write was in
// flight goes out in one message, every frame in order. A socket that keeps up gets one message per
// frame.
func TestBacklogWrittenInOneMessage(t *testing.T) {
	h := newTestHub(t, HubConfig{})
	conn := newFakeConn()
	conn.hold = make(chan struct{})
	s := h.Register(1, "a", conn)
	h.Deliver(messageEvent(1, 1))
	conn.waitBlocked(t) // the writer holds event 1 alone
	for id := int64(2); id <= 10; id++ {
		h.Deliver(messageEvent(id, 1))
	}
	s.Do(frameFunc("do"))
	close(conn.hold)
	want := []string{"message:1"}
	for id := 2; id <= 10; id++ {
		want = append(want, fmt.Sprintf("message:%d", id))
	}
	want = append(want, "do")
	conn.waitFrames(t, len(want))
	conn.mu.Lock()
	frames, messages := slices.Clone(conn.frames), conn.messages
	conn.mu.Unlock()
	if !slices.Equal(frames, want) || messages != 2 {
		t.Fatalf("%d messages holding %q; want 2: the first frame alone, then the backlog of %q", messages, frames, want[1:])
	}

	h.Deliver(messageEvent(11, 1))
	conn.waitFrames(t, len(want)+1)
	s.Do(frameFunc("after"))
	conn.waitFrames(t, len(want)+2)
	if _, messages := conn.counts(); messages != 4 {
		t.Fatalf("a socket that keeps up: %d messages for 2 frames, want one each", messages-2)
	}
	h.Unregister(s)
	conn.release()
	conn.checkViolations(t)
}
