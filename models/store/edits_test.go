package store_test

import (
	"errors"
	"strings"
	"testing"

	"messenger/models"
	"messenger/models/store"
)

func changeSeqs(msgs []models.ExtendedMessage) map[int64]int64 {
	out := make(map[int64]int64, len(msgs))
	for _, m := range msgs {
		out[m.MessageID] = m.ChangeSeq
	}
	return out
}

// Only the sender changes their message, only in its own conversation; each change takes the next
// change number once (a refused one takes none), and a page that has seen change N gets exactly the
// messages changed after it, as they are now.
func TestEditAndDeleteMessages(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		first := send(t, s, alice, bob, "first")
		theirs := send(t, s, bob, alice, "bob's")
		last := send(t, s, alice, bob, "second")
		other := send(t, s, alice, carol, "to carol")

		refused := []struct {
			name                   string
			sender, recipient, msg int64
		}{
			{"the recipient", bob.UserID, alice.UserID, first.MessageID},
			{"another conversation's recipient", alice.UserID, carol.UserID, first.MessageID},
			{"another conversation's message", alice.UserID, bob.UserID, other.MessageID},
			{"someone else's message", alice.UserID, bob.UserID, theirs.MessageID},
			{"a missing id", alice.UserID, bob.UserID, other.MessageID + 100},
		}
		for _, tc := range refused {
			if _, err := s.EditMessage(ctx, tc.sender, tc.recipient, tc.msg, "hacked"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("edit by %s: %v, want ErrNotFound", tc.name, err)
			}
			if _, err := s.DeleteMessage(ctx, tc.sender, tc.recipient, tc.msg); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("delete by %s: %v, want ErrNotFound", tc.name, err)
			}
		}

		edited, err := s.EditMessage(ctx, alice.UserID, bob.UserID, first.MessageID, "first, edited")
		if err != nil {
			t.Fatal(err)
		}
		if m := edited.Message; m.MessageBody != "first, edited" || m.EditedAt == nil || m.ChangeSeq != 1 || edited.Last || m.SenderUsername != "alice" {
			t.Fatalf("edited: %+v last=%v", m, edited.Last)
		}
		deleted, err := s.DeleteMessage(ctx, alice.UserID, bob.UserID, last.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		if m := deleted.Message; m.MessageBody != "" || m.DeletedAt == nil || m.Unread || m.ChangeSeq != 2 || !deleted.Last {
			t.Fatalf("deleted: %+v last=%v", m, deleted.Last)
		}
		if _, err := s.EditMessage(ctx, alice.UserID, bob.UserID, last.MessageID, "back"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("edit of a deleted message: %v, want ErrConflict", err)
		}
		if _, err := s.DeleteMessage(ctx, alice.UserID, bob.UserID, last.MessageID); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second delete: %v, want ErrConflict", err)
		}
		again, err := s.EditMessage(ctx, alice.UserID, bob.UserID, first.MessageID, "first, edited twice")
		if err != nil || again.Message.ChangeSeq != 3 {
			t.Fatalf("second edit: change %d, %v (refused changes must not use a number)", again.Message.ChangeSeq, err)
		}

		conv := conversation(t, s, alice, bob)
		all, err := s.ChangesAfter(ctx, conv.ConversationID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := changeSeqs(all); len(all) != 2 || all[0].MessageID != last.MessageID || got[first.MessageID] != 3 || all[1].MessageBody != "first, edited twice" {
			t.Fatalf("changes after 0: %+v", all)
		}
		after2, err := s.ChangesAfter(ctx, conv.ConversationID, 2, 10)
		if err != nil || len(after2) != 1 || after2[0].MessageID != first.MessageID {
			t.Fatalf("changes after 2: %+v, %v", after2, err)
		}
		if none, err := s.ChangesAfter(ctx, conversation(t, s, alice, carol).ConversationID, 0, 10); err != nil || len(none) != 0 {
			t.Fatalf("another conversation's changes: %+v, %v", none, err)
		}

		h, err := s.History(ctx, bob.UserID, "alice", 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		if h.LastChange != 3 || len(h.Messages) != 3 {
			t.Fatalf("history: last change %d, %d messages", h.LastChange, len(h.Messages))
		}
		if m := h.Messages[0]; m.EditedAt == nil || m.MessageBody != "first, edited twice" || m.ChangeSeq != 3 {
			t.Fatalf("history's edited message: %+v", m)
		}
		if m := h.Messages[2]; m.DeletedAt == nil || m.MessageBody != "" {
			t.Fatalf("history's deleted message: %+v", m)
		}
		if m := h.Messages[1]; m.EditedAt != nil || m.DeletedAt != nil || m.ChangeSeq != 0 {
			t.Fatalf("history's unchanged message: %+v", m)
		}

		row, err := s.Contact(ctx, bob.UserID, alice.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if row.LastMessage == nil || row.LastMessage.DeletedAt == nil || row.LastMessage.MessageBody != "" || row.Unread != 1 {
			t.Fatalf("bob's row for alice after the deletion: %+v unread %d", row.LastMessage, row.Unread)
		}
	})
}

// A reply keeps the id of the message it answers and every read of it quotes the start of that
// message, or says it was deleted; only a message of the same conversation can be quoted.
func TestRepliesQuote(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		long := strings.Repeat("é", models.QuoteLen+20)
		original := send(t, s, alice, bob, long)
		other := send(t, s, alice, carol, "elsewhere")
		if _, err := s.QuoteInConversation(ctx, bob.UserID, alice.UserID, other.MessageID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("quote of another conversation's message: %v", err)
		}
		q, err := s.QuoteInConversation(ctx, bob.UserID, alice.UserID, original.MessageID)
		if err != nil || q.SenderUsername != "alice" || q.Body != long[:2*(models.QuoteLen+1)] || q.Deleted {
			t.Fatalf("quote: %+v, %v", q, err)
		}
		reply, _, err := s.SendMessage(ctx, store.SendInput{SenderID: bob.UserID, RecipientID: alice.UserID, Body: "answer", ReplyToID: original.MessageID})
		if err != nil || reply.ReplyToID == nil || *reply.ReplyToID != original.MessageID {
			t.Fatalf("reply: %+v, %v", reply.Message, err)
		}
		if _, err := s.DeleteMessage(ctx, alice.UserID, bob.UserID, original.MessageID); err != nil {
			t.Fatal(err)
		}
		h, err := s.History(ctx, alice.UserID, "bob", 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		got := h.Messages[len(h.Messages)-1]
		if got.MessageID != reply.MessageID || got.ReplyTo == nil || !got.ReplyTo.Deleted || got.ReplyTo.Body != "" || h.Messages[0].ReplyTo != nil {
			t.Fatalf("history's reply: %+v quote %+v", got.Message, got.ReplyTo)
		}
		edited, err := s.EditMessage(ctx, bob.UserID, alice.UserID, reply.MessageID, "answer, edited")
		if err != nil || edited.Message.ReplyTo == nil || !edited.Message.ReplyTo.Deleted {
			t.Fatalf("an edited reply's quote: %+v, %v", edited.Message.ReplyTo, err)
		}
		byID, err := s.MessageByID(ctx, reply.MessageID)
		if err != nil || byID.ReplyTo == nil || byID.ReplyTo.MessageID != original.MessageID {
			t.Fatalf("message by id: %+v, %v", byID.ReplyTo, err)
		}
		after, err := s.MessagesAfter(ctx, reply.ConversationID, 0, 10)
		if err != nil || len(after) != 2 || after[1].ReplyTo == nil {
			t.Fatalf("messages after: %+v, %v", after, err)
		}
	})
}
