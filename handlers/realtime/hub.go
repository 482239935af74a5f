package realtime

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Conn is what the hub needs of a WebSocket connection. The *websocket.Conn of
// gofiber/contrib/websocket (and fasthttp/websocket) satisfies it.
type Conn interface {
	WriteMessage(messageType int, data []byte) error
	WriteControl(messageType int, data []byte, deadline time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

// Frame types and close codes of RFC 6455, numbered as fasthttp/websocket
// numbers them; spelled out here so this package needs no WebSocket library.
const (
	textMessage  = 1
	closeMessage = 8
	pingMessage  = 9

	closePolicyViolation = 1008
	closeServiceRestart  = 1012
	// CloseTooManySockets closes the oldest socket of a user or session past its cap. htmx-ext-ws
	// reconnects only after 1006, 1011, 1012 and 1013, so a page closed with this code stays closed
	// and says why: two pages over the cap cannot take turns evicting each other. The code must reach
	// the page as sent, which is why a socket the hub closes waits for the peer's answer (see
	// Socket.writeLoop): a dropped connection would be 1006, and the page would reconnect.
	CloseTooManySockets = 4008
)

// Renderer turns an event into the frame one socket should receive; nil means
// nothing for this socket. It runs on the socket's writer goroutine, for every
// socket an event reaches: it should only choose among the event's Frames.
type Renderer func(ctx context.Context, s *Socket, ev Event) ([]byte, error)

// HubConfig configures a Hub; zero durations and sizes take the defaults.
type HubConfig struct {
	Logger *slog.Logger
	// QueueSize bounds each socket's outgoing queue (default 64); a socket
	// whose queue is full is too slow and gets closed.
	QueueSize    int
	WriteTimeout time.Duration // default 10s
	PingInterval time.Duration // default 25s
	// CloseGrace (default 2s) is how long a socket closed by the hub waits for the peer to answer its
	// close frame before the connection is dropped.
	CloseGrace time.Duration
	// OfflineGrace (default 4s) keeps a page reload or a reconnect from
	// flashing a user offline: offline is reported only if the user's last
	// socket stays closed this long.
	OfflineGrace time.Duration
	Render       Renderer // required
	// Context carries the values the sockets' work reads (the views' caches); each socket's context
	// is derived from it. Default: context.Background().
	Context context.Context
	// MaxPerUser and MaxPerSession cap a user's and a session's sockets on this instance (0: no
	// cap); registering one more closes the oldest with CloseTooManySockets.
	MaxPerUser    int
	MaxPerSession int
	// OnPresence is told when this instance's socket count for a user goes
	// 0→1 (online at once) or stays 0 for OfflineGrace (offline). Calls come
	// in order from one goroutine of the hub's, never under the hub's lock.
	OnPresence func(userID int64, online bool)
	// Observer is told of message frames written and of slow sockets dropped (metrics); nil: nobody.
	Observer Observer
}

// Observer watches the hub for metrics. Its methods run on sockets' writers and on deliveries: they
// must be quick and safe from any goroutine.
type Observer interface {
	// MessageWritten: a frame of a message committed at that time was written to a socket.
	MessageWritten(committed time.Time)
	// SlowSocketDropped: a socket was closed because its queue was full, or a write timed out.
	SlowSocketDropped(writeTimedOut bool)
}

type noObserver struct{}

func (noObserver) MessageWritten(time.Time) {}
func (noObserver) SlowSocketDropped(bool)   {}

// Hub tracks the open sockets of one process and fans events out to them;
// make one per process and feed it from the Broker.
type Hub struct {
	cfg HubConfig
	log *slog.Logger
	// afterFunc is time.AfterFunc; tests replace it to drive the offline grace.
	afterFunc func(time.Duration, func()) stopper

	mu        sync.RWMutex
	byUser    map[int64]map[*Socket]struct{}
	bySession map[string]map[*Socket]struct{}
	count     int
	// registered numbers sockets in the order they came, to find a user's oldest.
	registered uint64
	// goingOffline holds the users whose last socket closed less than
	// OfflineGrace ago; the pointer identifies the one timer allowed to
	// report them offline.
	goingOffline map[int64]*offlineTimer
	shutdown     bool

	presence        *queue[presenceChange]
	stopPresence    chan struct{}
	presenceStopped chan struct{}
}

type stopper interface{ Stop() bool }

type offlineTimer struct{ timer stopper }

type presenceChange struct {
	userID int64
	online bool
}

// NewHub returns a running hub; call Shutdown to stop it.
func NewHub(cfg HubConfig) *Hub {
	if cfg.Render == nil {
		panic("realtime: HubConfig.Render is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 64
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 25 * time.Second
	}
	if cfg.CloseGrace <= 0 {
		cfg.CloseGrace = 2 * time.Second
	}
	if cfg.OfflineGrace <= 0 {
		cfg.OfflineGrace = 4 * time.Second
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	h := &Hub{
		cfg: cfg,
		log: cfg.Logger,
		afterFunc: func(d time.Duration, f func()) stopper {
			return time.AfterFunc(d, f)
		},
		byUser:          make(map[int64]map[*Socket]struct{}),
		bySession:       make(map[string]map[*Socket]struct{}),
		goingOffline:    make(map[int64]*offlineTimer),
		presence:        newQueue[presenceChange](0),
		stopPresence:    make(chan struct{}),
		presenceStopped: make(chan struct{}),
	}
	go h.reportPresence()
	return h
}

// Register adds a socket for an upgraded connection; its writer starts when it has something to write.
// The handler must call Unregister before it returns.
func (h *Hub) Register(userID int64, sessionID string, conn Conn) *Socket {
	s := newSocket(h, userID, sessionID, conn)
	// Nothing can start its writer before s is indexed: a writer that failed
	// and closed s earlier would remove it before it was indexed, and s would
	// linger. The ping timer is set under the lock for the same reason (close,
	// which its writer may call, waits for the lock).
	h.mu.Lock()
	if h.shutdown {
		h.mu.Unlock()
		s.close(closeReason{code: closeServiceRestart, text: "service restart"}) // starts a writer to say so
		return s
	}
	sockets := h.byUser[userID]
	if sockets == nil {
		sockets = make(map[*Socket]struct{})
		h.byUser[userID] = sockets
		if pending, ok := h.goingOffline[userID]; ok {
			// Back within the grace: others never saw this user go offline.
			pending.timer.Stop()
			delete(h.goingOffline, userID)
		} else {
			h.notePresence(userID, true)
		}
	}
	h.registered++
	s.order = h.registered
	s.startPinging()
	sockets[s] = struct{}{}
	var evicted []*Socket
	if sessionID != "" {
		session := h.bySession[sessionID]
		if session == nil {
			session = make(map[*Socket]struct{})
			h.bySession[sessionID] = session
		}
		session[s] = struct{}{}
		evicted = oldest(session, h.cfg.MaxPerSession, nil)
	}
	evicted = oldest(sockets, h.cfg.MaxPerUser, evicted)
	h.count++
	h.mu.Unlock()
	// Closed after the lock is released: close takes it to remove them.
	for _, old := range evicted {
		old.close(closeReason{code: CloseTooManySockets, text: "too many open pages"})
	}
	return s
}

// oldest appends to evicted the oldest sockets that put set over limit (0: no limit), not counting
// those already in evicted.
func oldest(set map[*Socket]struct{}, limit int, evicted []*Socket) []*Socket {
	for limit > 0 {
		over := len(set) - limit
		var first *Socket
		for s := range set {
			if slices.Contains(evicted, s) {
				over--
				continue
			}
			if first == nil || s.order < first.order {
				first = s
			}
		}
		if over <= 0 || first == nil {
			break
		}
		evicted = append(evicted, first)
	}
	return evicted
}

// Unregister closes the socket if the hub has not already, and returns once
// its writer has stopped, so the caller may let the connection be reused.
// Call it when the handler's read loop has ended; it is idempotent.
func (h *Hub) Unregister(s *Socket) {
	s.readerOnce.Do(func() { close(s.readerDone) })
	s.close(closeReason{})
	// The read side is finished, so the peer is gone or going: a write still
	// in flight must not hold the handler for a whole write timeout.
	s.abortConn()
	<-s.finished
	s.connMu.Lock()
	s.released = true
	s.connMu.Unlock()
}

// Release closes the socket for a handler that closes the connection itself (its reader found a
// protocol error and answers with its own close frame): the hub stops writing and never closes the
// connection. It returns once the writer no longer touches the connection; Unregister is still due.
func (h *Hub) Release(s *Socket) {
	s.connMu.Lock()
	s.released = true
	s.connMu.Unlock()
	s.readerOnce.Do(func() { close(s.readerDone) })
	s.close(closeReason{})
	<-s.finished
}

// remove drops s from the indexes; called once per socket, from Socket.close.
func (h *Hub) remove(s *Socket) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sockets := h.byUser[s.UserID]
	if _, ok := sockets[s]; !ok {
		return
	}
	delete(sockets, s)
	h.count--
	if session := h.bySession[s.SessionID]; session != nil {
		delete(session, s)
		if len(session) == 0 {
			delete(h.bySession, s.SessionID)
		}
	}
	if len(sockets) > 0 {
		return
	}
	delete(h.byUser, s.UserID)
	if h.shutdown {
		return
	}
	pending := &offlineTimer{}
	pending.timer = h.afterFunc(h.cfg.OfflineGrace, func() { h.graceExpired(s.UserID, pending) })
	h.goingOffline[s.UserID] = pending
}

func (h *Hub) graceExpired(userID int64, pending *offlineTimer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	// A reconnect or Shutdown may have cancelled this timer after it fired.
	if h.goingOffline[userID] != pending {
		return
	}
	delete(h.goingOffline, userID)
	h.notePresence(userID, false)
}

// notePresence queues a change for reportPresence; called under h.mu so
// changes are reported in the order they happened.
func (h *Hub) notePresence(userID int64, online bool) {
	if h.cfg.OnPresence != nil {
		h.presence.push(presenceChange{userID: userID, online: online})
	}
}

func (h *Hub) reportPresence() {
	defer close(h.presenceStopped)
	for {
		select {
		case <-h.stopPresence:
			return
		case <-h.presence.ready():
		}
		for _, c := range h.presence.take() {
			h.cfg.OnPresence(c.userID, c.online)
		}
	}
}

// Deliver hands ev to the sockets it concerns without blocking: a socket
// whose queue is full is closed rather than waited for.
func (h *Hub) Deliver(ev Event) {
	if ev.Kind == KindSessionEnded {
		if ev.SessionID == "" {
			return
		}
		for _, s := range h.sessionSockets(ev.SessionID) {
			s.close(closeReason{code: closePolicyViolation, text: "session ended"})
		}
		return
	}
	// One Frames per delivery: each variant of the fragment is rendered once for all the sockets.
	ev.Frames = &Frames{}
	for _, s := range h.recipients(ev.Users) {
		s.enqueue(outgoing{event: &ev})
	}
}

func (h *Hub) sessionSockets(sessionID string) []*Socket {
	h.mu.RLock()
	defer h.mu.RUnlock()
	sockets := make([]*Socket, 0, len(h.bySession[sessionID]))
	for s := range h.bySession[sessionID] {
		sockets = append(sockets, s)
	}
	return sockets
}

// recipients returns the sockets of users, each once; no users means every socket.
func (h *Hub) recipients(users []int64) []*Socket {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(users) == 0 {
		sockets := make([]*Socket, 0, h.count)
		for _, userSockets := range h.byUser {
			for s := range userSockets {
				sockets = append(sockets, s)
			}
		}
		return sockets
	}
	var sockets []*Socket
	seen := make(map[int64]struct{}, len(users))
	for _, u := range users {
		if _, dup := seen[u]; dup {
			continue
		}
		seen[u] = struct{}{}
		for s := range h.byUser[u] {
			sockets = append(sockets, s)
		}
	}
	return sockets
}

// OnlineUsers lists the users with a socket on this instance, in no order.
func (h *Hub) OnlineUsers() []int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	users := make([]int64, 0, len(h.byUser))
	for u := range h.byUser {
		users = append(users, u)
	}
	return users
}

// Count is the number of open sockets on this instance.
func (h *Hub) Count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.count
}

// Shutdown closes every socket with 1012 (service restart), which tells
// htmx-ext-ws to reconnect, and waits for the writers until ctx is done; then
// it drops the connections that have not finished. Pending offline reports
// are dropped: the users are expected back on another instance.
func (h *Hub) Shutdown(ctx context.Context) {
	h.mu.Lock()
	if h.shutdown {
		h.mu.Unlock()
		return
	}
	h.shutdown = true
	sockets := make([]*Socket, 0, h.count)
	for _, userSockets := range h.byUser {
		for s := range userSockets {
			sockets = append(sockets, s)
		}
	}
	for userID, pending := range h.goingOffline {
		pending.timer.Stop()
		delete(h.goingOffline, userID)
	}
	h.mu.Unlock()
	close(h.stopPresence)

	for _, s := range sockets {
		s.close(closeReason{code: closeServiceRestart, text: "service restart"})
	}
	for i, s := range sockets {
		select {
		case <-s.finished:
		case <-ctx.Done():
			h.log.Warn("realtime: shutdown timed out, dropping sockets", "remaining", len(sockets)-i)
			for _, s := range sockets[i:] {
				s.abortConn()
			}
			return
		}
	}
	select {
	case <-h.presenceStopped:
	case <-ctx.Done():
	}
}
