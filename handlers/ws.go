package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
	fiberws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"messenger/handlers/realtime"
	"messenger/handlers/session"
	"messenger/models"
	"messenger/models/store"
	"messenger/views"
)

const (
	// maxFrame bounds a client frame: a 4,000-character body in UTF-8 plus JSON and htmx's headers.
	maxFrame = 32 * 1024
	// defaultPingEvery and defaultPongWait are Deps.PingEvery and Deps.PongWait when not set: a socket
	// silent (no pong, no frame) for two missed pings and then some counts as dead.
	defaultPingEvery = 25 * time.Second
	defaultPongWait  = 60 * time.Second
	// closeLinger bounds how long a connection closed for a protocol violation is drained.
	closeLinger = 2 * time.Second
)

const (
	localsSessionID  = "messenger.session_id"
	localsSessionEnd = "messenger.session_end"
	localsClientAddr = "messenger.client_addr"
)

// upgrade admits a socket only for a signed-in session (requireUser ran before) and this site's origin,
// before the protocol switch: after it, Locals are frozen and errors cannot be pages.
func (s *Server) upgrade(c *fiber.Ctx) error {
	if !fiberws.IsWebSocketUpgrade(c) {
		return errorf(http.StatusUpgradeRequired, "This address is for the live connection of the Messenger page.")
	}
	if !s.sessions.CheckOrigin(c) {
		return session.ErrOrigin
	}
	// A loopback peer is a local reverse proxy (without TRUSTED_PROXIES) or a tool on this host, not one
	// client: counting it would put everyone behind the proxy into one bucket.
	addr := ""
	if client := s.clientAddr(c); !client.IsLoopback() {
		addr = client.String()
	}
	if s.addrSockets.full(addr) {
		return errorf(http.StatusTooManyRequests, "Too many Messenger pages are open from your address. Close some and reload this one.")
	}
	c.Locals(localsClientAddr, addr)
	sess := session.From(c)
	c.Locals(localsSessionID, sess.Hash())
	c.Locals(localsSessionEnd, sess.Created().Add(s.sessions.Store.Absolute()))
	return c.Next()
}

// frame is what a client sends: htmx-ext-ws serialises a form's fields (strings) and adds HEADERS.
// With no kind it is a message to send, as the original design's socket send.
type frame struct {
	Kind     string          `json:"kind"`
	To       *string         `json:"to"`
	Body     *string         `json:"body"`
	ClientID string          `json:"client_id"`
	After    json.RawMessage `json:"after"`
	Changes  json.RawMessage `json:"changes"`
	ReplyTo  json.RawMessage `json:"reply_to"`
	Visible  string          `json:"visible"`
	Q        string          `json:"q"` // the users list's search (close)
}

// position reads a count a page sends (a seq or a change number), as a JSON number or string.
func position(raw json.RawMessage) (int64, bool) {
	n, err := strconv.ParseInt(frameText(raw), 10, 64)
	return n, err == nil && n >= 0
}

// frameText is a field that may come as a JSON string or a bare number, as text ("" when absent).
func frameText(raw json.RawMessage) string {
	text := string(raw)
	if unq, err := strconv.Unquote(text); err == nil {
		text = unq
	}
	return text
}

// changes is the newest change of its conversation an "open" frame's page holds; a page from before
// changes were counted sends none and gets every change replayed.
func (f frame) changes() int64 {
	n, _ := position(f.Changes)
	return n
}

// decodeFrame parses a client frame; every problem is a sentence for the person.
func decodeFrame(data []byte) (frame, int64, error) {
	var f frame
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return f, 0, errorf(http.StatusBadRequest, "The server could not read what your page sent.")
	}
	if f.Kind == "close" {
		return f, 0, nil
	}
	if f.To == nil || *f.To == "" {
		return f, 0, errorf(http.StatusBadRequest, "Say who the message is for.")
	}
	var after int64
	switch f.Kind {
	case "", "send":
		if f.Body == nil {
			return f, 0, errorf(http.StatusBadRequest, "The message has no text.")
		}
	case "open":
		n, ok := position(f.After)
		if _, changesOK := position(f.Changes); !ok || (!changesOK && f.Changes != nil) {
			return f, 0, errorf(http.StatusBadRequest, "The page's position in the conversation is not valid.")
		}
		after = n
	case "typing":
	default:
		return f, 0, errorf(http.StatusBadRequest, "The server does not know that kind of request.")
	}
	return f, after, nil
}

// socket takes over an upgraded connection: it reads what the upgrade's request left in the
// handler's locals and returns at once, leaving the connection to readSocket on a goroutine of its
// own. The server keeps hijacked connections (KeepHijackedConns), so fasthttp neither closes the
// connection nor holds its request context and goroutine for the socket's life: an idle socket then
// costs one small goroutine and its connection's state. conn is reused after the return; its
// WebSocket connection is not.
func (s *Server) socket(conn *fiberws.Conn) {
	me, _ := conn.Locals(localsUser).(models.User)
	sessionID, _ := conn.Locals(localsSessionID).(string)
	addr, _ := conn.Locals(localsClientAddr).(string)
	end, _ := conn.Locals(localsSessionEnd).(time.Time)
	go s.readSocket(conn.Conn, me, sessionID, addr, end)
}

// readSocket runs for the life of one connection: it reads frames; the hub's writer goroutine does
// every write. It closes the connection when it is done.
func (s *Server) readSocket(conn *websocket.Conn, me models.User, sessionID, addr string, end time.Time) {
	defer conn.Close()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("socket reader panicked", "user_id", me.UserID, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if !s.addrSockets.acquire(addr) {
		// Upgrades that raced past the check in upgrade: the same answer, after the upgrade.
		lingeringClose(conn, websocket.ClosePolicyViolation, "too many connections from your address")
		return
	}
	defer s.addrSockets.release(addr)
	sock := s.hub.Register(me.UserID, sessionID, conn)
	defer s.hub.Unregister(sock)
	// A socket never outlives its session: at the absolute expiry it closes with 1008, like at logout.
	expiry := time.AfterFunc(time.Until(end), func() {
		s.deliver(realtime.Event{Kind: realtime.KindSessionEnded, SessionID: sessionID})
	})
	defer expiry.Stop()
	sock.Do(func(ctx context.Context, sk *realtime.Socket) ([]byte, error) {
		sk.State = &socketState{me: me, visible: true}
		return nil, nil
	})
	_ = conn.SetReadDeadline(time.Now().Add(s.pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(s.pongWait)) })
	for {
		kind, data, err := readFrame(conn)
		if err != nil {
			var violation *closeError
			if errors.As(err, &violation) {
				// Stop the writer first: nothing may follow the close frame.
				s.hub.Release(sock)
				lingeringClose(conn, violation.code, violation.text)
			}
			return // closed, timed out, or a protocol violation answered above
		}
		select {
		case <-sock.Done():
			continue // the hub closed it (session ended, too many pages): read until the peer answers
		default:
		}
		if kind != websocket.TextMessage || !utf8.Valid(data) {
			code, text := websocket.CloseUnsupportedData, "text frames only"
			if kind == websocket.TextMessage {
				code, text = websocket.CloseInvalidFramePayloadData, "invalid UTF-8"
			}
			s.hub.Release(sock)
			lingeringClose(conn, code, text)
			return
		}
		s.handleFrame(sock, me, data)
		// Set after handleFrame, which may have waited for the user's budget.
		_ = conn.SetReadDeadline(time.Now().Add(s.pongWait))
	}
}

// closeError is a protocol violation of the peer, answered with a close frame.
type closeError struct {
	code int
	text string
}

func (e *closeError) Error() string { return e.text }

// readFrame reads one message of at most maxFrame bytes. The library's own read limit would answer
// an oversized frame with its close frame from under our writer, which may then fail and drop the
// connection; here the limit is ours, and so is the close.
func readFrame(conn *websocket.Conn) (int, []byte, error) {
	kind, r, err := conn.NextReader()
	if err != nil {
		return 0, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFrame+1))
	if err != nil {
		return 0, nil, err
	}
	if len(data) > maxFrame {
		return 0, nil, &closeError{code: websocket.CloseMessageTooBig, text: "message too big"}
	}
	return kind, data, nil
}

// lingeringClose ends a connection whose peer may still be sending (the rest of an oversized frame):
// the close frame, then a half-close, then what the peer sends is read and dropped until it closes or
// closeLinger passes. Closing at once, with unread data, would reset the connection: the peer's write
// fails and a browser reports 1006 without reading the close frame.
func lingeringClose(conn *websocket.Conn, code int, text string) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	nc := conn.NetConn()
	defer nc.Close()
	raw := nc
	if h, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		raw = h.UnsafeConn() // fasthttp's hijacked connection wraps the TCP one
	}
	if tcp, ok := raw.(interface{ CloseWrite() error }); ok {
		_ = tcp.CloseWrite()
	}
	_ = nc.SetReadDeadline(time.Now().Add(closeLinger))
	_, _ = io.Copy(io.Discard, nc)
}

func (s *Server) handleFrame(sock *realtime.Socket, me models.User, data []byte) {
	f, after, err := decodeFrame(data)
	// Every frame waits for the user's budget, a message for its send budget too; meanwhile this
	// socket is not read. A bad frame costs a frame: its answer is work as well.
	if !s.flow.waitFrame(sock.Context(), me.UserID, err == nil && (f.Kind == "" || f.Kind == "send")) {
		return // the socket closed while waiting
	}
	if err != nil {
		s.socketError(sock, err.Error())
		return
	}
	if f.Kind == "close" {
		// The page shows no conversation any more (htmx navigated back to the list).
		sock.Do(func(ctx context.Context, sk *realtime.Socket) ([]byte, error) {
			st := stateOf(sk)
			st.partner, st.convID, st.baseSeq, st.lastSeq = models.User{}, 0, 0, 0
			st.filter = listFilter(f.Q)
			list, err := s.userList(ctx, st)
			if err != nil {
				return nil, err
			}
			return renderBytes(ctx, list)
		})
		return
	}
	to := *f.To
	switch f.Kind {
	case "open":
		s.openFrame(sock, me, to, after, f.changes(), f.Visible != "hidden")
	case "typing":
		partner, err := s.users.byUsername(context.Background(), s.store, to)
		if err != nil || partner.UserID == me.UserID {
			return
		}
		s.publish(context.Background(), realtime.Event{Kind: realtime.KindTyping, Users: []int64{partner.UserID}, ActorID: me.UserID, Actor: &me})
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := s.send(ctx, me, to, *f.Body, f.ClientID, frameText(f.ReplyTo)); err != nil {
			var ue *userError
			if !errors.As(err, &ue) {
				s.log.Error("send message over socket", "user_id", me.UserID, "err", err)
				ue = &userError{msg: "Your message was not sent: " + lowerFirst(msgDatabaseDown)}
			}
			s.socketError(sock, ue.msg)
		}
	}
}

// openFrame answers a page that says which conversation it shows: the reader resolves the partner;
// the writer then replays what the page misses.
func (s *Server) openFrame(sock *realtime.Socket, me models.User, to string, after, changes int64, visible bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	partner, err := s.users.byUsername(ctx, s.store, to)
	if errors.Is(err, store.ErrNotFound) || (err == nil && partner.UserID == me.UserID) {
		s.socketError(sock, "There is no user by that name.")
		return
	}
	var convID int64
	if err == nil {
		convID, err = s.conversationID(ctx, me.UserID, partner.UserID)
	}
	if err != nil {
		s.log.Error("open conversation over socket", "user_id", me.UserID, "err", err)
		s.socketError(sock, msgDatabaseDown)
		return
	}
	sock.Do(func(ctx context.Context, sk *realtime.Socket) ([]byte, error) {
		return s.openConversation(ctx, sk, partner, convID, after, changes, visible)
	})
}

// conversationID is the conversation of two users, 0 while they never wrote.
func (s *Server) conversationID(ctx context.Context, a, b int64) (int64, error) {
	conv, err := s.store.ConversationBetween(ctx, a, b)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	return conv.ConversationID, err
}

// socketError shows msg on that socket's page only.
func (s *Server) socketError(sock *realtime.Socket, msg string) {
	sock.Do(func(ctx context.Context, _ *realtime.Socket) ([]byte, error) {
		return renderBytes(ctx, views.SocketError(msg))
	})
}
