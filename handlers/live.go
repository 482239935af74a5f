package handlers

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/a-h/templ"

	"messenger/handlers/realtime"
	"messenger/models"
	"messenger/models/store"
	"messenger/views"
)

// catchUpLimit bounds what one (re)connect replays; a page further behind reloads its conversation.
const catchUpLimit = 1000

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
			if err := s.markRead(ctx, conv.ConversationID, st.me.UserID, partner.UserID, st.lastSeq); err != nil {
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
		// The event says which message, not who may see it: the stored message does. Whoever the event
		// was addressed to (a bug, or anything able to NOTIFY on PostgreSQL), a socket shows a message
		// only to its sender and its recipient, and only in the conversation of those two.
		msg, err := s.recent.get(ctx, s.store, ev.MessageID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		other := msg.RecipientUserID
		switch st.me.UserID {
		case msg.SenderUserID:
		case msg.RecipientUserID:
			other = msg.SenderUserID
		default:
			return nil, nil
		}
		s.scheduleRow(sk, st, other, true)
		open := st.partner.UserID != 0 && other == st.partner.UserID
		if open && msg.Seq <= st.lastSeq {
			return nil, nil // an earlier catch-up on this socket brought it already
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
				if err := s.markRead(ctx, msg.ConversationID, st.me.UserID, msg.SenderUserID, st.lastSeq); err != nil {
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
		parts = append(parts, views.Typing(st.me.UserID, st.partner.UserID, st.partner.FullName()))
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
