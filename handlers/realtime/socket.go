package realtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Socket is one registered WebSocket. Its writer goroutine is the only one
// that writes to the connection: fasthttp/websocket panics on concurrent writes.
// The writer runs only while there is something to write (see writeLoop): most
// sockets are idle, and an idle one keeps no goroutine of its own besides its
// handler's reader.
type Socket struct {
	UserID    int64
	SessionID string
	// State belongs to the writer: the Renderer and Do funcs may read and write
	// it without locks, nothing else may touch it. Writers run one after another
	// (the queue starts one only when the last has ended), so it passes between
	// them as it would within one goroutine.
	State any

	hub    *Hub
	conn   Conn
	order  uint64           // registration order, set under hub.mu
	queue  *queue[outgoing] // holds memory only while something waits in it: most sockets are idle
	ctx    context.Context
	cancel context.CancelFunc
	pinger *time.Timer // queues a ping; the writer sets it again after writing one; nil if never registered

	closeOnce sync.Once
	reason    closeReason // set before done is closed
	done      chan struct{}
	finished  chan struct{} // closed when the writer has stopped touching conn
	// readerDone is closed by Unregister: the handler has stopped reading, so a close frame the
	// writer sent has had its answer (or never will).
	readerDone chan struct{}
	readerOnce sync.Once

	connMu   sync.Mutex
	released bool // conn belongs to its handler again; guarded by connMu

	// written holds the dates of the messages in the frame being written, for the observer's
	// delivery latency; the writer's own.
	written []time.Time
}

// outgoing is one of: an event to render, a func to run, or a ping; none of
// them (what close queues) only wakes a writer to close. The event is a pointer
// shared by every recipient, which keeps each socket's queue small.
type outgoing struct {
	event *Event
	do    func(ctx context.Context, s *Socket) ([]byte, error)
	ping  bool
}

// closeReason with code 0 drops the connection without a close frame: the
// peer cannot or will not read one.
type closeReason struct {
	code int
	text string
}

func newSocket(h *Hub, userID int64, sessionID string, conn Conn) *Socket {
	ctx, cancel := context.WithCancel(h.cfg.Context)
	return &Socket{
		UserID:     userID,
		SessionID:  sessionID,
		hub:        h,
		conn:       conn,
		queue:      newDemandQueue[outgoing](h.cfg.QueueSize),
		ctx:        ctx,
		cancel:     cancel,
		done:       make(chan struct{}),
		finished:   make(chan struct{}),
		readerDone: make(chan struct{}),
	}
}

// startPinging sets the timer that queues the socket's pings: a timer, not a goroutine with a
// ticker, so an idle socket keeps no goroutine for it. Register calls it under the hub's lock.
func (s *Socket) startPinging() {
	s.pinger = time.AfterFunc(s.hub.cfg.PingInterval, func() { s.enqueue(outgoing{ping: true}) })
}

// Context is cancelled when the socket closes: work done for it (a reader waiting for its turn)
// stops then.
func (s *Socket) Context() context.Context { return s.ctx }

// Do queues fn to run on the writer goroutine, in order with events, where it
// may use State; the bytes it returns are written as a text frame. False means
// the socket is closed, or was just closed because its queue was full.
func (s *Socket) Do(fn func(ctx context.Context, s *Socket) ([]byte, error)) bool {
	return s.enqueue(outgoing{do: fn})
}

// Done is closed once the socket is closed, by the hub (slow client, failed
// write or ping, session ended, shutdown) or by Unregister.
func (s *Socket) Done() <-chan struct{} { return s.done }

func (s *Socket) enqueue(o outgoing) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	if ok, start := s.queue.offer(false, o); ok {
		if start {
			go s.writeLoop()
		}
		return true
	}
	s.hub.log.Warn("realtime: outgoing queue full, closing slow socket",
		"user_id", s.UserID, "queue_size", s.hub.cfg.QueueSize)
	s.hub.cfg.Observer.SlowSocketDropped(false)
	s.close(closeReason{})
	return false
}

// close is safe from any goroutine; the first reason wins.
func (s *Socket) close(r closeReason) {
	s.closeOnce.Do(func() {
		s.reason = r
		s.hub.remove(s)
		close(s.done)
		s.cancel()
		if s.pinger != nil {
			s.pinger.Stop()
		}
		if r.code == 0 {
			// Unblocks a write stuck on a peer that stopped reading.
			s.abortConn()
		}
		// A writer must see done to send the close frame and let go of the connection: the one
		// running sees it before its next write; if none runs, this starts one.
		if _, start := s.queue.offer(true, outgoing{}); start {
			go s.writeLoop()
		}
	})
}

// abortConn closes the connection from outside the writer, unless it has
// already been handed back to its handler.
func (s *Socket) abortConn() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if !s.released {
		s.conn.Close()
	}
}

// writeLoop is the writer: it writes what is queued and ends when nothing is left (the next enqueue
// starts another). The writer that finds the socket closed ends for good: it sends the close frame,
// lets go of the connection and closes finished; no writer starts after it.
func (s *Socket) writeLoop() {
	growStack(0)
	closed, err := s.pump()
	if !closed && err == nil {
		return // idle
	}
	defer close(s.finished)
	// abortConn, not conn.Close: a handler that took the connection back (Release) closes it itself.
	defer s.abortConn()
	if err != nil {
		s.hub.log.Debug("realtime: write failed, closing socket", "user_id", s.UserID, "err", err)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			s.hub.cfg.Observer.SlowSocketDropped(true)
		}
		s.close(closeReason{})
		return
	}
	if s.reason.code == 0 {
		return
	}
	payload := binary.BigEndian.AppendUint16(nil, uint16(s.reason.code))
	payload = append(payload, s.reason.text...)
	if err := s.conn.WriteControl(closeMessage, payload, time.Now().Add(s.hub.cfg.WriteTimeout)); err != nil {
		s.hub.log.Debug("realtime: close frame not sent", "user_id", s.UserID, "err", err)
		return
	}
	// The closing handshake: the connection stays open until the peer answers the close frame (the
	// handler's reader then ends and calls Unregister) or CloseGrace passes. Closing at once would
	// reset a connection the peer is still sending on (a typing frame in flight is enough), and the
	// page would see 1006 instead of the code, and reconnect.
	grace := time.NewTimer(s.hub.cfg.CloseGrace)
	defer grace.Stop()
	select {
	case <-s.readerDone:
	case <-grace.C:
	}
}

// writerStack is about the stack a writer needs to render a message. A writer is a new goroutine, so
// it starts with a small stack, and a render growing it step by step copies it and walks its frames
// each time (5% of the server's CPU in chat, pinned profile); growStack takes it at once, while the
// stack holds almost nothing to copy.
const writerStack = 16 << 10

//go:noinline
func growStack(i int) byte {
	var pad [writerStack]byte
	pad[i] = 1
	return pad[writerStack-1-i]
}

// maxCoalesced bounds the bytes one WebSocket message gathers from a backlog (see pump).
const maxCoalesced = 64 << 10

// pump writes until the queue is empty (false, nil), the socket is closed (true, nil) or a write
// fails. It takes everything queued at once and writes it in as few WebSocket messages as
// maxCoalesced allows: every frame is a list of out-of-band fragments, which the page applies in
// order, so frames that waited together cost one message and one write instead of one each. A socket
// that keeps up sends one frame per message; one that falls behind catches up in fewer, larger
// writes, as a group commit does. While the writer works on what it took, the queue can fill again:
// a stuck write is noticed when it does.
func (s *Socket) pump() (closed bool, err error) {
	var buf []byte
	for {
		// Checked first so a closed socket stops even with a backlog queued.
		select {
		case <-s.done:
			return true, nil
		default:
		}
		items := s.queue.next()
		if len(items) == 0 {
			return false, nil
		}
		if buf, err = s.writeAll(items, buf); err != nil {
			return false, err
		}
		if cap(buf) > maxCoalesced {
			buf = nil // a rare large catch-up: do not keep its buffer for every later frame
		}
	}
}

// writeAll renders items in order and writes their frames, gathered in buf up to maxCoalesced bytes
// per message, until the socket closes. It returns buf for reuse.
func (s *Socket) writeAll(items []outgoing, buf []byte) ([]byte, error) {
	if len(items) == 1 && !items[0].ping { // the usual case: the frame is written as rendered, shared bytes and all
		return buf, s.write(s.frameFor(items[0]))
	}
	buf = buf[:0]
	for _, o := range items {
		select {
		case <-s.done:
			return buf, nil
		default:
		}
		if o.ping { // a control frame may go between two messages: written now, not gathered
			if err := s.ping(); err != nil {
				return buf, err
			}
			continue
		}
		buf = append(buf, s.frameFor(o)...)
		if len(buf) >= maxCoalesced {
			if err := s.write(buf); err != nil {
				return buf, err
			}
			buf = buf[:0]
		}
	}
	return buf, s.write(buf)
}

// ping writes a ping and sets the timer for the next one.
func (s *Socket) ping() error {
	if err := s.conn.WriteControl(pingMessage, nil, time.Now().Add(s.hub.cfg.WriteTimeout)); err != nil {
		return err
	}
	s.pinger.Reset(s.hub.cfg.PingInterval)
	return nil
}

// write sends one text message; nothing to send is not an error.
func (s *Socket) write(frame []byte) error {
	if len(frame) == 0 {
		return nil
	}
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.hub.cfg.WriteTimeout)); err != nil {
		return err
	}
	if err := s.conn.WriteMessage(textMessage, frame); err != nil {
		return err
	}
	for _, at := range s.written {
		s.hub.cfg.Observer.MessageWritten(at)
	}
	s.written = s.written[:0]
	return nil
}

// frameFor renders o for this socket; a render that fails writes nothing (one failed render must not
// cost the user their live updates), and a message it renders is noted for the observer.
func (s *Socket) frameFor(o outgoing) []byte {
	var frame []byte
	var err error
	if o.event == nil && o.do == nil {
		return nil // what close queued: nothing to write
	}
	if o.event != nil {
		frame, err = s.hub.cfg.Render(s.ctx, s, *o.event)
		if err != nil {
			err = fmt.Errorf("render %s event: %w", o.event.Kind, err)
		}
	} else if frame, err = o.do(s.ctx, s); err != nil {
		err = fmt.Errorf("socket func: %w", err)
	}
	switch {
	case err != nil && s.ctx.Err() != nil:
		// The socket closed under a render that was reading the database: the page has gone, nothing failed.
		s.hub.log.Debug("realtime: nothing written, socket closed", "user_id", s.UserID, "err", err)
		return nil
	case err != nil:
		s.hub.log.Error("realtime: nothing written", "user_id", s.UserID, "err", err)
		return nil
	}
	if len(frame) > 0 && o.event != nil && o.event.Kind == KindMessage && o.event.Message != nil {
		s.written = append(s.written, o.event.Message.MessageDate)
	}
	return frame
}
