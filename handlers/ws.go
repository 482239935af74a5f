package handlers

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/a-h/templ"
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
	// pongWait is how long a socket may stay silent (no pong, no frame) before it counts as dead.
	pongWait = 60 * time.Second
	// catchUpLimit bounds what one (re)connect replays; a page further behind reloads its conversation.
	catchUpLimit = 1000
	// Frames a socket may send: a burst, then a steady rate; more is refused for that socket only.
	frameBurst = 20
	frameRate  = 5 // per second
)

const (
	localsSessionID  = "messenger.session_id"
	localsSessionEnd = "messenger.session_end"
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
	sess := session.From(c)
	c.Locals(localsSessionID, sess.Hash())
	c.Locals(localsSessionEnd, sess.Created().Add(s.sessions.Store.Absolute()))
	return c.Next()
}

// socketState belongs to a socket's writer goroutine: the hub runs every render and every Do there,
// so none of it needs a lock.
type socketState struct {
	me      models.User
	partner models.User // the conversation this page has open, if any
	convID  int64
	baseSeq int64 // the newest seq the page was rendered with; its live area holds what came after
	lastSeq int64 // the newest seq of that conversation this page holds
	visible bool
	// rows are the users-list rows to refresh (true: also move to the top, a new message), and
	// rowsPending says a refresh is queued behind the events now waiting: a burst of messages or a
	// storm of presence changes costs one refresh, not one per event.
	rows        map[int64]bool
	rowsPending bool
}

// frame is what a client sends: htmx-ext-ws serialises a form's fields (strings) and adds HEADERS.
// With no kind it is a message to send, as the original design's socket send.
type frame struct {
	Kind     string          `json:"kind"`
	To       *string         `json:"to"`
	Body     *string         `json:"body"`
	ClientID string          `json:"client_id"`
	After    json.RawMessage `json:"after"`
	Visible  string          `json:"visible"`
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
		raw := string(f.After)
		if unq, err := strconv.Unquote(raw); err == nil {
			raw = unq
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			return f, 0, errorf(http.StatusBadRequest, "The page's position in the conversation is not valid.")
		}
		after = n
	case "typing":
	default:
		return f, 0, errorf(http.StatusBadRequest, "The server does not know that kind of request.")
	}
	return f, after, nil
}

// socket runs for the life of one connection: it reads frames; the hub's writer goroutine does every
// write. It must deregister before returning, because the connection object is reused after that.
func (s *Server) socket(conn *fiberws.Conn) {
	me, _ := conn.Locals(localsUser).(models.User)
	sessionID, _ := conn.Locals(localsSessionID).(string)
	conn.SetReadLimit(maxFrame)
	sock := s.hub.Register(me.UserID, sessionID, conn)
	defer s.hub.Unregister(sock)
	// A socket never outlives its session: at the absolute expiry it closes with 1008, like at logout.
	end, _ := conn.Locals(localsSessionEnd).(time.Time)
	expiry := time.AfterFunc(time.Until(end), func() {
		s.deliver(realtime.Event{Kind: realtime.KindSessionEnded, SessionID: sessionID})
	})
	defer expiry.Stop()
	sock.Do(func(ctx context.Context, sk *realtime.Socket) ([]byte, error) {
		sk.State = &socketState{me: me, visible: true}
		return nil, nil
	})
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
	limiter := newTokenBucket(frameBurst, frameRate)
	for {
		kind, data, err := conn.ReadMessage()
		if err != nil {
			return // closed, timed out, or too large (the library answered 1009)
		}
		_ = conn.SetReadDeadline(time.Now().Add(pongWait))
		if kind != websocket.TextMessage || !utf8.Valid(data) {
			code, text := websocket.CloseUnsupportedData, "text frames only"
			if kind == websocket.TextMessage {
				code, text = websocket.CloseInvalidFramePayloadData, "invalid UTF-8"
			}
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
			return
		}
		if !limiter.take() {
			s.socketError(sock, "You are sending too fast. Wait a moment.")
			continue
		}
		s.handleFrame(sock, me, data)
	}
}

func (s *Server) handleFrame(sock *realtime.Socket, me models.User, data []byte) {
	f, after, err := decodeFrame(data)
	if err != nil {
		s.socketError(sock, err.Error())
		return
	}
	if f.Kind == "close" {
		// The page shows no conversation any more (htmx navigated back to the list).
		sock.Do(func(ctx context.Context, sk *realtime.Socket) ([]byte, error) {
			st := stateOf(sk)
			st.partner, st.convID, st.baseSeq, st.lastSeq = models.User{}, 0, 0, 0
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
		visible := f.Visible != "hidden"
		sock.Do(func(ctx context.Context, sk *realtime.Socket) ([]byte, error) {
			return s.openConversation(ctx, sk, to, after, visible)
		})
	case "typing":
		partner, err := s.store.UserByUsername(context.Background(), to)
		if err != nil || partner.UserID == me.UserID {
			return
		}
		s.publish(context.Background(), realtime.Event{Kind: realtime.KindTyping, Users: []int64{partner.UserID}, ActorID: me.UserID})
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := s.send(ctx, me, to, *f.Body, f.ClientID); err != nil {
			var ue *userError
			if !errors.As(err, &ue) {
				s.log.Error("send message over socket", "user_id", me.UserID, "err", err)
				ue = &userError{msg: "Your message was not sent: " + lowerFirst(msgDatabaseDown)}
			}
			s.socketError(sock, ue.msg)
		}
	}
}

// socketError shows msg on that socket's page only.
func (s *Server) socketError(sock *realtime.Socket, msg string) {
	sock.Do(func(ctx context.Context, _ *realtime.Socket) ([]byte, error) {
		return renderBytes(ctx, views.SocketError(msg))
	})
}

// openConversation records which conversation the page shows and replays everything after the seq the
// page was rendered with, replacing what live pushes it may hold: after any reconnect the page then
// has each message once, in order.
func (s *Server) openConversation(ctx context.Context, sk *realtime.Socket, to string, after int64, visible bool) ([]byte, error) {
	st := stateOf(sk)
	partner, err := s.store.UserByUsername(ctx, to)
	if errors.Is(err, store.ErrNotFound) || (err == nil && partner.UserID == st.me.UserID) {
		return renderBytes(ctx, views.SocketError("There is no user by that name."))
	}
	if err != nil {
		return nil, err
	}
	st.partner, st.convID, st.baseSeq, st.lastSeq, st.visible = partner, 0, after, after, visible
	var msgs []models.ExtendedMessage
	conv, err := s.store.ConversationBetween(ctx, st.me.UserID, partner.UserID)
	switch {
	case err == nil:
		st.convID = conv.ConversationID
		if msgs, err = s.store.MessagesAfter(ctx, conv.ConversationID, after, catchUpLimit); err != nil {
			return nil, err
		}
		if n := len(msgs); n > 0 {
			st.lastSeq = msgs[n-1].Seq
		}
		if visible {
			if err := s.markRead(ctx, conv.ConversationID, st.me.UserID, partner.UserID); err != nil {
				return nil, err
			}
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	contacts, err := s.store.Contacts(ctx, st.me.UserID)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	parts := []templ.Component{
		views.LiveReplace(st.me.UserID, st.me.UserID, partner.UserID, msgs),
		views.UserList(st.me.UserID, contacts, partner.UserID, true),
	}
	for _, c := range contacts {
		if c.UserID == partner.UserID {
			parts = append(parts, views.PartnerStatus(c, true))
		}
	}
	for _, p := range parts {
		if err := p.Render(ctx, &out); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

func stateOf(sk *realtime.Socket) *socketState {
	st, _ := sk.State.(*socketState)
	return st
}

// renderEvent turns an event into the fragment one socket receives. It runs on that socket's writer
// goroutine, so it may use the socket's state freely.
func (s *Server) renderEvent(ctx context.Context, sk *realtime.Socket, ev realtime.Event) ([]byte, error) {
	st := stateOf(sk)
	if st == nil {
		return nil, nil
	}
	var parts []templ.Component
	switch ev.Kind {
	case realtime.KindMessage:
		if len(ev.Users) == 2 {
			other := ev.Users[0]
			if other == st.me.UserID {
				other = ev.Users[1]
			}
			s.scheduleRow(sk, st, other, true)
		}
		open := len(ev.Users) == 2 && s.isOpen(st, ev.Users[0], ev.Users[1])
		if open && ev.Seq != 0 && ev.Seq <= st.lastSeq {
			return nil, nil // an earlier catch-up on this socket brought it already
		}
		msg, err := s.recent.get(ctx, s.store, ev.MessageID)
		if err != nil {
			return nil, err
		}
		msgs := []models.ExtendedMessage{msg}
		if open {
			st.convID = msg.ConversationID
			if msgs, err = s.store.MessagesAfter(ctx, msg.ConversationID, st.lastSeq, catchUpLimit); err != nil {
				return nil, err
			}
			if len(msgs) == 0 {
				return nil, nil // this page already holds it
			}
			st.lastSeq = msgs[len(msgs)-1].Seq
			if msg.SenderUserID == st.partner.UserID {
				parts = append(parts, views.Typing(st.me.UserID, st.partner.UserID, ""))
			}
			if st.visible && msg.RecipientUserID == st.me.UserID {
				if err := s.markRead(ctx, msg.ConversationID, st.me.UserID, msg.SenderUserID); err != nil {
					return nil, err
				}
			}
		}
		parts = append(parts, views.LiveAppend(st.me.UserID, msg.SenderUserID, msg.RecipientUserID, msgs))
	case realtime.KindRead:
		if ev.ActorID != st.me.UserID && st.convID == ev.ConversationID && st.convID != 0 {
			page, err := s.store.MessagesBefore(ctx, ev.ConversationID, st.lastSeq+1, pageSize)
			if err != nil {
				return nil, err
			}
			for _, m := range page.Messages {
				if m.SenderUserID == st.me.UserID && !m.Unread && m.MessageID <= ev.MessageID {
					parts = append(parts, views.Receipt(m))
				}
			}
		}
		if ev.ActorID == st.me.UserID && len(ev.Users) == 2 {
			s.scheduleRow(sk, st, ev.Users[1], false)
		}
	case realtime.KindPresence:
		if ev.ActorID != st.me.UserID {
			s.scheduleRow(sk, st, ev.ActorID, false)
		}
	case realtime.KindTyping:
		if ev.ActorID != st.partner.UserID || st.partner.UserID == 0 {
			return nil, nil
		}
		parts = append(parts, views.Typing(st.me.UserID, st.partner.UserID, st.partner.Username))
	case realtime.KindResync:
		if st.partner.UserID != 0 {
			// Events may have been lost: rebuild the live area from what the page was rendered with.
			return s.openConversation(ctx, sk, st.partner.Username, st.baseSeq, st.visible)
		}
		list, err := s.userList(ctx, st)
		if err != nil {
			return nil, err
		}
		parts = append(parts, list)
	}
	var out bytes.Buffer
	for _, p := range parts {
		if err := p.Render(ctx, &out); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// isOpen reports whether the socket's page shows the conversation of users a and b.
func (s *Server) isOpen(st *socketState, a, b int64) bool {
	p := st.partner.UserID
	return p != 0 && (a == st.me.UserID && b == p || b == st.me.UserID && a == p)
}

// rowsAsList is how many changed rows make re-rendering the whole list (one query) the cheaper way.
const rowsAsList = 16

// scheduleRow queues a refresh of the row of user id behind whatever the socket has waiting; toTop
// also moves it to the top of the list (it has a new message).
func (s *Server) scheduleRow(sk *realtime.Socket, st *socketState, id int64, toTop bool) {
	if st.rows == nil {
		st.rows = map[int64]bool{}
	}
	st.rows[id] = st.rows[id] || toTop
	if st.rowsPending {
		return
	}
	st.rowsPending = true
	sk.Do(func(ctx context.Context, _ *realtime.Socket) ([]byte, error) {
		rows := st.rows
		st.rows, st.rowsPending = nil, false
		return s.renderRows(ctx, st, rows)
	})
}

// renderRows refreshes the given rows of the users list and the open conversation's status line.
func (s *Server) renderRows(ctx context.Context, st *socketState, rows map[int64]bool) ([]byte, error) {
	var contacts []models.Contact
	if len(rows) > rowsAsList {
		all, err := s.store.Contacts(ctx, st.me.UserID)
		if err != nil {
			return nil, err
		}
		for _, c := range all {
			if _, ok := rows[c.UserID]; ok {
				contacts = append(contacts, c)
			}
		}
		for _, toTop := range rows {
			if toTop { // the order changed: the whole list, already in hand, is the simplest answer
				return renderBytes(ctx, views.UserList(st.me.UserID, all, st.partner.UserID, true))
			}
		}
	} else {
		for id := range rows {
			c, err := s.store.Contact(ctx, st.me.UserID, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			contacts = append(contacts, c)
		}
	}
	// Rows moving up are prepended oldest first, so the newest conversation ends on top.
	slices.SortFunc(contacts, func(a, b models.Contact) int { return cmp.Compare(lastID(a), lastID(b)) })
	var out bytes.Buffer
	for _, c := range contacts {
		active := c.UserID == st.partner.UserID
		row := views.UserRow(st.me.UserID, c, active, true)
		if rows[c.UserID] {
			row = views.RowToTop(st.me.UserID, c, active)
		}
		if err := row.Render(ctx, &out); err != nil {
			return nil, err
		}
		if active {
			if err := views.PartnerStatus(c, true).Render(ctx, &out); err != nil {
				return nil, err
			}
		}
	}
	return out.Bytes(), nil
}

func lastID(c models.Contact) int64 {
	if c.LastMessage == nil {
		return 0
	}
	return c.LastMessage.MessageID
}

func (s *Server) userList(ctx context.Context, st *socketState) (templ.Component, error) {
	contacts, err := s.store.Contacts(ctx, st.me.UserID)
	if err != nil {
		return nil, err
	}
	return views.UserList(st.me.UserID, contacts, st.partner.UserID, true), nil
}

func renderBytes(ctx context.Context, c templ.Component) ([]byte, error) {
	var out bytes.Buffer
	err := c.Render(ctx, &out)
	return out.Bytes(), err
}

// deliver hands an event from the broker to this instance's sockets.
func (s *Server) deliver(ev realtime.Event) {
	if ev.Kind == realtime.KindSessionEnded {
		s.sessions.Store.Forget(ev.SessionID)
	}
	s.hub.Deliver(ev)
}

// presenceChanged records this instance's sockets of a user and tells everyone; the list rows are
// rendered from the database, which counts every instance.
func (s *Server) presenceChanged(userID int64, online bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sockets := 0
	if online {
		sockets = 1
	}
	if err := s.store.Heartbeat(ctx, s.instanceID); err != nil {
		s.log.Warn("presence heartbeat", "err", err)
	}
	if err := s.store.SetPresence(ctx, s.instanceID, userID, sockets); err != nil {
		s.log.Warn("record presence", "user_id", userID, "err", err)
	}
	if !online {
		if err := s.store.SignOffUser(ctx, userID); err != nil {
			s.log.Warn("record last seen", "user_id", userID, "err", err)
		}
	}
	s.publish(ctx, realtime.Event{Kind: realtime.KindPresence, ActorID: userID, Online: online})
}

// heartbeat keeps this instance's presence rows counting; rows of an instance that stops beating
// (killed) stop counting after store.PresenceFreshness.
func (s *Server) heartbeat(ctx context.Context) {
	tick := time.NewTicker(store.PresenceFreshness / 3)
	defer tick.Stop()
	for {
		if err := s.store.Heartbeat(ctx, s.instanceID); err != nil && ctx.Err() == nil {
			s.log.Warn("heartbeat", "err", err)
		}
		// Instances that stopped beating were killed; their presence rows go with them.
		if err := s.store.RemoveInstance(ctx, "", 2*store.PresenceFreshness); err != nil && ctx.Err() == nil {
			s.log.Warn("remove stale instances", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// tokenBucket limits one socket's frames; only that socket's reader uses it.
type tokenBucket struct {
	tokens float64
	burst  float64
	rate   float64
	last   time.Time
}

func newTokenBucket(burst, rate int) *tokenBucket {
	return &tokenBucket{tokens: float64(burst), burst: float64(burst), rate: float64(rate), last: time.Now()}
}

func (b *tokenBucket) take() bool {
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
