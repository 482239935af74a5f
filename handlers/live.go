package handlers

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/a-h/templ"

	"messenger/handlers/realtime"
	"messenger/models"
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
	// filter is the users list's search as the page shows it ("" for none): rows of people it leaves
	// out are not pushed to the page.
	filter string
	// lastChange is the newest change (edit, deletion) of that conversation the page shows.
	lastChange int64
	// unread counts, by partner, the messages the user has not read, as the events tell them: the
	// total goes in the page title. Loaded at every (re)connect.
	unread map[int64]int64
}

// countUnread takes the unread counts of a users list (every conversation of the user's).
func (st *socketState) countUnread(contacts []models.Contact) {
	st.unread = make(map[int64]int64)
	for _, c := range contacts {
		if c.Unread > 0 {
			st.unread[c.UserID] = c.Unread
		}
	}
}

// setUnread records how many of partner's messages are unread and returns the element that shows
// the page the total.
func (st *socketState) setUnread(partner, n int64) templ.Component {
	if st.unread == nil {
		st.unread = make(map[int64]int64)
	}
	st.unread[partner] = n
	return st.unreadTotal()
}

// unreadTotal is the element that shows the page the user's unread total.
func (st *socketState) unreadTotal() templ.Component {
	var total int64
	for _, c := range st.unread {
		total += c
	}
	return views.UnreadTotal(total, true)
}

func stateOf(sk *realtime.Socket) *socketState {
	st, _ := sk.State.(*socketState)
	return st
}

// openConversation records which conversation the page shows and replays everything after the seq the
// page was rendered with, replacing what live pushes it may hold: after any reconnect the page then
// has each message once, in order. It runs on the writer: a (re)connect is when a page catches up
// from the database; the reader resolved the partner before.
func (s *Server) openConversation(ctx context.Context, sk *realtime.Socket, partner models.User, convID, after, changes int64, visible bool) ([]byte, error) {
	st := stateOf(sk)
	st.partner, st.convID, st.baseSeq, st.lastSeq, st.lastChange, st.visible = partner, convID, after, after, changes, visible
	st.filter = "" // a conversation page lists everyone
	var msgs, changed []models.ExtendedMessage
	if convID != 0 {
		var err error
		if msgs, err = s.store.MessagesAfter(ctx, convID, after, catchUpLimit); err != nil {
			return nil, err
		}
		// Read after the messages: a change that commits between the two reads is shown, not lost.
		if changed, err = s.changesAfter(ctx, st); err != nil {
			return nil, err
		}
		if n := len(msgs); n > 0 {
			st.lastSeq = msgs[n-1].Seq
		}
		// Read before the frame goes out, up to what the page is given: a page that shows the
		// conversation has nothing unread in it once it has caught up.
		if visible {
			if err := s.markRead(ctx, convID, st.me.UserID, partner.UserID, st.lastSeq); err != nil {
				return nil, err
			}
		}
	}
	contacts, err := s.store.Contacts(ctx, st.me.UserID)
	if err != nil {
		return nil, err
	}
	st.countUnread(contacts)
	var out bytes.Buffer
	parts := []templ.Component{
		views.LiveReplace(st.me.UserID, st.me.UserID, partner.UserID, msgs),
		views.UserList(st.me.UserID, contacts, partner.UserID, true),
	}
	if len(changed) > 0 {
		parts = append(parts, views.ChangedMessages(st.me.UserID, st.me.UserID, partner.UserID, changed, st.lastChange))
	}
	for _, c := range contacts {
		if c.UserID == partner.UserID {
			parts = append(parts, views.PartnerStatus(c, true))
		}
	}
	parts = append(parts, st.unreadTotal())
	for _, p := range parts {
		if err := p.Render(ctx, &out); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// Variants of a message's fragment: who sees it (the sender or the recipient) and what the page shows.
const (
	roleSender = iota
	roleRecipient
)

const (
	pageElsewhere   = iota // the users list or another conversation
	pageOpenHidden         // this conversation, in a tab nobody looks at
	pageOpenVisible        // this conversation, seen: what arrives is read
)

// renderEvent turns an event into the fragment one socket receives. It runs on that socket's writer
// goroutine for every socket the event reaches, so it only picks the variant of the event's fragment
// that this page needs (rendered once, by the first socket that needs it) and keeps the socket's
// state. It reads the database only where a page must catch up: a gap in a conversation's sequence, or
// a resync.
func (s *Server) renderEvent(ctx context.Context, sk *realtime.Socket, ev realtime.Event) ([]byte, error) {
	st := stateOf(sk)
	if st == nil {
		return nil, nil
	}
	me := st.me.UserID
	switch ev.Kind {
	case realtime.KindMessage:
		return s.renderMessage(ctx, st, ev)
	case realtime.KindChange:
		return s.renderChange(ctx, st, ev)
	case realtime.KindRead:
		if len(ev.Users) != 2 || !slices.Contains(ev.Users, me) {
			return nil, nil
		}
		if me == ev.ActorID {
			// The reader's other pages: the partner's row has nothing unread any more, nor counts the
			// title what was read.
			badge, err := ev.Frames.Get(0, func() ([]byte, error) {
				return renderBytes(ctx, views.UnreadBadge(ev.Users[1], 0, true))
			})
			if err != nil {
				return nil, err
			}
			var out bytes.Buffer
			out.Write(badge)
			err = st.setUnread(ev.Users[1], 0).Render(ctx, &out)
			return out.Bytes(), err
		}
		return ev.Frames.Get(1, func() ([]byte, error) {
			var out bytes.Buffer
			for _, id := range ev.ReadIDs {
				if err := views.Receipt(models.ExtendedMessage{Message: models.Message{MessageID: id}}).Render(ctx, &out); err != nil {
					return nil, err
				}
			}
			return out.Bytes(), nil
		})
	case realtime.KindPresence:
		return ev.Frames.Get(0, func() ([]byte, error) {
			return renderBytes(ctx, views.Presence(s.presence.contacts(ev)))
		})
	case realtime.KindUser:
		if ev.Actor == nil || ev.ActorID == me || !ev.Actor.Matches(st.filter) {
			return nil, nil
		}
		return ev.Frames.Get(0, func() ([]byte, error) {
			return renderBytes(ctx, views.NewUserRow(models.Contact{User: *ev.Actor, Online: s.presence.online(ev.ActorID)}))
		})
	case realtime.KindProfile:
		if ev.Actor == nil {
			return nil, nil
		}
		return ev.Frames.Get(0, func() ([]byte, error) { return renderBytes(ctx, views.Name(*ev.Actor, true)) })
	case realtime.KindTyping:
		if ev.Actor == nil || ev.ActorID == me || !slices.Contains(ev.Users, me) {
			return nil, nil
		}
		// The target is specific to the pair, so every page of the partner may have it.
		return ev.Frames.Get(int(me), func() ([]byte, error) {
			return renderBytes(ctx, views.Typing(me, ev.ActorID, ev.Actor.FullName()))
		})
	case realtime.KindResync:
		if st.partner.UserID != 0 {
			// Events may have been lost: rebuild the live area from what the page was rendered with.
			convID, err := s.conversationID(ctx, me, st.partner.UserID)
			if err != nil {
				return nil, err
			}
			return s.openConversation(ctx, sk, st.partner, convID, st.baseSeq, st.lastChange, st.visible)
		}
		list, err := s.userList(ctx, st)
		if err != nil {
			return nil, err
		}
		return renderBytes(ctx, list)
	}
	return nil, nil
}

// renderMessage picks the variant of a new message's fragment for one page: only the sender's and the
// recipient's pages ever get one.
func (s *Server) renderMessage(ctx context.Context, st *socketState, ev realtime.Event) ([]byte, error) {
	role, other, ok := viewerRole(st, ev)
	if !ok {
		return nil, nil
	}
	m, me := ev.Message, st.me.UserID
	page, withMessage := pageElsewhere, true
	var missed []models.ExtendedMessage
	if st.partner.UserID == other.UserID {
		page = pageOpenHidden
		if st.visible {
			page = pageOpenVisible
		}
		st.convID = m.ConversationID
		switch {
		case m.Seq <= st.lastSeq:
			withMessage = false // an earlier catch-up on this socket brought it already
		case m.Seq == st.lastSeq+1:
			st.lastSeq = m.Seq
		default:
			// A gap: events overtook each other or were lost. The database has every message.
			msgs, err := s.messagesAfter(ctx, st)
			if err != nil {
				return nil, err
			}
			missed, withMessage = msgs, false
		}
		if role == roleRecipient && page == pageOpenVisible && (withMessage || len(missed) > 0) {
			s.reads.add(readRequest{conversationID: m.ConversationID, readerID: me, partnerID: other.UserID, seq: st.lastSeq})
		}
	}
	key := role<<3 | page<<1
	if withMessage {
		key |= 1
	}
	listed := other.Matches(st.filter) // a searched list shows only the people it found
	if !listed {
		key |= 1 << 4
	}
	frame, err := ev.Frames.Get(key, func() ([]byte, error) {
		return s.messageFragment(ctx, ev, me, *other, role, page, withMessage, listed)
	})
	if err != nil {
		return nil, err
	}
	// The title's total, this page's own: the other person's count as the event tells it (none when
	// this page shows what arrives: it is being read).
	unread := ev.RecipientUnread
	switch {
	case role == roleSender:
		unread = ev.SenderUnread
	case page == pageOpenVisible:
		unread = 0
	}
	var out bytes.Buffer
	if len(missed) > 0 {
		if err := views.LiveAppend(me, m.SenderUserID, m.RecipientUserID, missed).Render(ctx, &out); err != nil {
			return nil, err
		}
	}
	out.Write(frame)
	err = st.setUnread(other.UserID, unread).Render(ctx, &out)
	return out.Bytes(), err
}

// viewerRole says whether the socket's user sent or received the event's message, and who the other
// person is; ok is false for anyone else, and for an event not completed with the message and both
// users.
func viewerRole(st *socketState, ev realtime.Event) (role int, other *models.User, ok bool) {
	m := ev.Message
	if m == nil || ev.Sender == nil || ev.Receiver == nil {
		return 0, nil, false
	}
	switch st.me.UserID {
	case m.SenderUserID:
		return roleSender, ev.Receiver, true
	case m.RecipientUserID:
		return roleRecipient, ev.Sender, true
	}
	return 0, nil, false
}

// messagesAfter returns the messages of the page's conversation after the newest it holds and moves
// the page past them.
func (s *Server) messagesAfter(ctx context.Context, st *socketState) ([]models.ExtendedMessage, error) {
	msgs, err := s.store.MessagesAfter(ctx, st.convID, st.lastSeq, catchUpLimit)
	if n := len(msgs); n > 0 {
		st.lastSeq = msgs[n-1].Seq
	}
	return msgs, err
}

// messageFragment renders one variant of a new message: the message appended to the conversation
// (its targets are specific to the pair, so every page of the two may have it) and the users-list row
// of the other person moved to the top, when the page lists them.
func (s *Server) messageFragment(ctx context.Context, ev realtime.Event, viewer int64, other models.User, role, page int, withMessage, listed bool) ([]byte, error) {
	m := ev.Message
	var out bytes.Buffer
	if withMessage {
		if role == roleRecipient && page != pageElsewhere {
			if err := views.Typing(viewer, other.UserID, "").Render(ctx, &out); err != nil {
				return nil, err
			}
		}
		if err := views.LiveAppend(viewer, m.SenderUserID, m.RecipientUserID, []models.ExtendedMessage{*m}).Render(ctx, &out); err != nil {
			return nil, err
		}
	}
	if !listed {
		return out.Bytes(), nil
	}
	row := models.Contact{User: other, ConversationID: &m.ConversationID, LastMessage: &m.Message}
	switch {
	case role == roleSender:
		row.Unread, row.Online = ev.SenderUnread, s.presence.online(other.UserID)
	case page == pageOpenVisible:
		row.Online = true // the sender, who is sending; what arrives here is being read
	default:
		row.Unread, row.Online = ev.RecipientUnread, true
	}
	if err := views.RowToTop(viewer, row, page != pageElsewhere).Render(ctx, &out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (s *Server) userList(ctx context.Context, st *socketState) (templ.Component, error) {
	contacts, more, err := s.store.FindContacts(ctx, st.me.UserID, st.filter)
	if err != nil {
		return nil, err
	}
	if st.filter == "" {
		st.countUnread(contacts)
	} else { // the counts of every conversation, not only of those the search lists
		all, err := s.store.Contacts(ctx, st.me.UserID)
		if err != nil {
			return nil, err
		}
		st.countUnread(all)
	}
	return templ.Join(views.PeopleList(st.me.UserID, views.People{Contacts: contacts, Query: st.filter, More: more}, st.partner.UserID, true),
		st.unreadTotal()), nil
}

func renderBytes(ctx context.Context, c templ.Component) ([]byte, error) {
	var out bytes.Buffer
	err := c.Render(ctx, &out)
	return out.Bytes(), err
}

// readRequest asks for a conversation to be marked read: a page shows it while messages arrive.
type readRequest struct {
	conversationID, readerID, partnerID int64
	seq                                 int64 // the newest seq the page holds
}

// readQueue collects mark-read requests from the writers, which must not wait for the database;
// markReads serves them in batches, one per conversation and reader however many messages arrived.
type readQueue struct {
	mu      sync.Mutex
	pending map[[2]int64]readRequest
	signal  chan struct{}
}

func newReadQueue() *readQueue {
	return &readQueue{pending: make(map[[2]int64]readRequest), signal: make(chan struct{}, 1)}
}

func (q *readQueue) add(r readRequest) {
	q.mu.Lock()
	k := [2]int64{r.conversationID, r.readerID}
	if old, ok := q.pending[k]; !ok || old.seq < r.seq {
		q.pending[k] = r
	}
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *readQueue) take() map[[2]int64]readRequest {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := q.pending
	q.pending = make(map[[2]int64]readRequest)
	return batch
}

// markReads marks conversations read for the pages that showed their messages, until ctx ends.
func (s *Server) markReads(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.reads.signal:
		}
		for _, r := range s.reads.take() {
			if err := s.markRead(ctx, r.conversationID, r.readerID, r.partnerID, r.seq); err != nil && ctx.Err() == nil {
				s.log.Warn("mark read", "user_id", r.readerID, "err", err)
			}
		}
	}
}

// deliver completes an event from the broker with what its fragments show, once for this instance,
// and hands it to this instance's sockets.
func (s *Server) deliver(ev realtime.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	switch ev.Kind {
	case realtime.KindSessionEnded:
		s.sessions.Store.Forget(ev.SessionID)
	case realtime.KindMessage:
		err = s.completeMessage(ctx, &ev)
	case realtime.KindChange:
		err = s.completeChange(ctx, &ev)
	case realtime.KindRead:
		err = s.completeRead(ctx, &ev)
	case realtime.KindPresence:
		s.presence.merge(ev, s.instanceID)
	case realtime.KindUser:
		s.announced.add(ev.ActorID)
		fallthrough
	case realtime.KindProfile:
		s.users.forget(ev.ActorID) // new, or renamed
		fallthrough
	case realtime.KindTyping:
		if ev.Actor == nil {
			var u models.User
			u, err = s.users.get(ctx, s.store, ev.ActorID)
			ev.Actor = &u
		}
	}
	if err != nil {
		s.log.Warn("live event not delivered", "kind", string(ev.Kind), "err", err)
		return
	}
	s.hub.Deliver(ev)
}

// completeMessage loads a message announced by id (from another instance, when it did not fit its
// notification); either way the message, as stored, decides who sees it, whatever the event names.
func (s *Server) completeMessage(ctx context.Context, ev *realtime.Event) error {
	if ev.Message != nil {
		s.recent.put(*ev.Message) // an edit or a read of it later finds it here, as one read back would be
	} else {
		msg, err := s.recent.get(ctx, s.store, ev.MessageID)
		if err != nil {
			return err
		}
		ev.Message = &msg // the unread counts came with the event, from the send that stored it
	}
	return s.completePair(ctx, ev)
}

// completePair addresses an event about a stored message to its two people, whatever the event
// named, and loads both users for its fragments.
func (s *Server) completePair(ctx context.Context, ev *realtime.Event) error {
	m := ev.Message
	ev.Users = []int64{m.SenderUserID, m.RecipientUserID}
	ev.ConversationID, ev.Seq = m.ConversationID, m.Seq
	for _, u := range []struct {
		id  int64
		dst **models.User
	}{{m.SenderUserID, &ev.Sender}, {m.RecipientUserID, &ev.Receiver}} {
		if *u.dst != nil && (*u.dst).UserID == u.id {
			continue
		}
		user, err := s.users.get(ctx, s.store, u.id)
		if err != nil {
			return err
		}
		*u.dst = &user
	}
	return nil
}

// completeRead finds the partner's messages that the read made read, for their receipts.
func (s *Server) completeRead(ctx context.Context, ev *realtime.Event) error {
	if len(ev.Users) != 2 || ev.ConversationID == 0 || !s.presence.here(ev.Users[1]) {
		return nil // no page of the partner here to show receipts on
	}
	page, err := s.store.MessagesBefore(ctx, ev.ConversationID, 0, pageSize)
	if err != nil {
		return err
	}
	for _, m := range page.Messages {
		if m.SenderUserID == ev.Users[1] && m.RecipientUserID == ev.ActorID && !m.Unread && m.MessageID <= ev.MessageID {
			ev.ReadIDs = append(ev.ReadIDs, m.MessageID)
		}
	}
	return nil
}
