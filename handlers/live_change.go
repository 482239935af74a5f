package handlers

import (
	"bytes"
	"context"

	"messenger/handlers/realtime"
	"messenger/models"
	"messenger/models/store"
	"messenger/views"
)

// Edits and deletions, live: like a new message, a change is committed, then announced to the two
// people; every page of theirs replaces the message by id. A page that shows the conversation counts
// the changes it holds (the conversation's change numbers, in commit order) as it counts messages by
// seq: a change it holds is skipped, the next one applied, a gap (or a reconnect) caught up from the
// database, so each change is shown once.

// publishChange announces a committed edit or deletion to the two people, with everything its
// fragments show.
func (s *Server) publishChange(ctx context.Context, ch store.Change, sender, recipient models.User) {
	m := ch.Message
	s.recent.replace(m)
	ev := realtime.Event{Kind: realtime.KindChange, Users: []int64{m.SenderUserID, m.RecipientUserID},
		MessageID: m.MessageID, ConversationID: m.ConversationID, Seq: m.Seq, Change: m.ChangeSeq, Last: ch.Last,
		ActorID: m.SenderUserID, Message: &m, Sender: &sender, Receiver: &recipient}
	var err error
	if ev.SenderUnread, ev.RecipientUnread, err = s.store.UnreadBetween(ctx, m.SenderUserID, m.RecipientUserID); err != nil {
		s.log.Warn("unread counts for a changed message", "user_id", sender.UserID, "err", err)
	}
	s.publish(ctx, ev)
}

// completeChange loads a change announced by ids (from another instance): the message as stored now,
// both users and the unread counts. Who sees it is decided by the stored message.
func (s *Server) completeChange(ctx context.Context, ev *realtime.Event) error {
	if ev.Message == nil {
		m, err := s.store.MessageByID(ctx, ev.MessageID)
		if err != nil {
			return err
		}
		s.recent.replace(m)
		ev.Message = &m
		if ev.SenderUnread, ev.RecipientUnread, err = s.store.UnreadBetween(ctx, m.SenderUserID, m.RecipientUserID); err != nil {
			return err
		}
	}
	return s.completePair(ctx, ev)
}

// changesAfter returns the changes of the page's conversation after the newest it holds, as the
// messages are now, and moves the page's position past them.
func (s *Server) changesAfter(ctx context.Context, st *socketState) ([]models.ExtendedMessage, error) {
	changed, err := s.store.ChangesAfter(ctx, st.convID, st.lastChange, catchUpLimit)
	if n := len(changed); n > 0 {
		st.lastChange = max(st.lastChange, changed[n-1].ChangeSeq)
	}
	return changed, err
}

// renderChange picks the variant of a changed message's fragment for one page: only the sender's
// and the recipient's pages get one. It reads the database only where the page must catch up.
func (s *Server) renderChange(ctx context.Context, st *socketState, ev realtime.Event) ([]byte, error) {
	role, other, ok := viewerRole(st, ev)
	if !ok {
		return nil, nil
	}
	m, me := ev.Message, st.me.UserID
	open, withMessage := st.partner.UserID == other.UserID, true
	var catchUp bytes.Buffer
	if open {
		st.convID = m.ConversationID
		if m.Seq > st.lastSeq {
			// The page was not given the message itself yet: it gets it, and whatever else it misses,
			// as they are now; their own events will find them shown.
			msgs, err := s.messagesAfter(ctx, st)
			if err != nil {
				return nil, err
			}
			if err := views.LiveAppend(me, m.SenderUserID, m.RecipientUserID, msgs).Render(ctx, &catchUp); err != nil {
				return nil, err
			}
			if role == roleRecipient && st.visible {
				s.reads.add(readRequest{conversationID: m.ConversationID, readerID: me, partnerID: other.UserID, seq: st.lastSeq})
			}
		}
		switch {
		case ev.Change <= st.lastChange:
			withMessage = false // a catch-up on this socket showed it already
		case ev.Change == st.lastChange+1:
			st.lastChange = ev.Change
		default:
			// A gap: changes overtook each other or were lost. The database has them all.
			changed, err := s.changesAfter(ctx, st)
			if err != nil {
				return nil, err
			}
			if err := views.ChangedMessages(me, m.SenderUserID, m.RecipientUserID, changed, st.lastChange).Render(ctx, &catchUp); err != nil {
				return nil, err
			}
			withMessage = false
		}
	}
	if !withMessage && !ev.Last {
		if catchUp.Len() == 0 {
			return nil, nil
		}
		return catchUp.Bytes(), nil
	}
	key := role << 2
	if open {
		key |= 2
	}
	if withMessage {
		key |= 1
	}
	frame, err := ev.Frames.Get(key, func() ([]byte, error) {
		return s.changeFragment(ctx, ev, me, *other, role, open, withMessage)
	})
	if err != nil || catchUp.Len() == 0 {
		return frame, err
	}
	catchUp.Write(frame)
	return catchUp.Bytes(), nil
}

// changeFragment renders one variant of a change: the message as it is now, replacing it by id
// wherever a page shows it, and, when it is the conversation's newest, the users-list row of the
// other person with the new preview, in its place.
func (s *Server) changeFragment(ctx context.Context, ev realtime.Event, viewer int64, other models.User, role int, open, withMessage bool) ([]byte, error) {
	m := ev.Message
	var out bytes.Buffer
	if withMessage {
		if err := views.ChangedMessages(viewer, m.SenderUserID, m.RecipientUserID, []models.ExtendedMessage{*m}, ev.Change).Render(ctx, &out); err != nil {
			return nil, err
		}
	}
	if ev.Last {
		row := models.Contact{User: other, ConversationID: &m.ConversationID, LastMessage: &m.Message,
			Online: s.presence.online(other.UserID), Unread: ev.RecipientUnread}
		if role == roleSender {
			row.Unread = ev.SenderUnread
		}
		if err := views.UserRow(viewer, row, open, true).Render(ctx, &out); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}
