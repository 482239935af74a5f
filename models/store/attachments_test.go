package store_test

import (
	"errors"
	"strings"
	"testing"

	"messenger/models"
	"messenger/models/store"
)

// A message and its attachment are stored together and read back everywhere a message is: the
// history, the catch-up after a seq, by id, the users list; only the pair may see it, the quota counts
// it, a retry with the same client id must name the same file, and deleting the row reports whether
// its file is still used.
func TestAttachments(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		sha := strings.Repeat("ab", 32)
		att := &models.Attachment{SHA256: sha, Name: "cat.png", Size: 1234, ContentType: "image/png", Width: 800, Height: 600, ThumbWidth: 480, ThumbHeight: 360}
		in := store.SendInput{SenderID: alice.UserID, RecipientID: bob.UserID, ClientID: "with-file", Attachment: att}
		m, created, err := s.SendMessage(ctx, in)
		if err != nil || !created || m.Attachment == nil || m.Attachment.AttachmentID == 0 || m.Attachment.MessageID != m.MessageID || m.Attachment.UploaderID != alice.UserID {
			t.Fatalf("send: %v %v %+v", created, err, m.Attachment)
		}
		send(t, s, bob, alice, "no file")

		check := func(where string, got *models.Attachment) {
			t.Helper()
			if got == nil {
				t.Fatalf("%s: no attachment", where)
			}
			g, want := *got, *m.Attachment
			if !g.CreatedAt.Equal(want.CreatedAt) {
				t.Errorf("%s: created %v, want %v", where, g.CreatedAt, want.CreatedAt)
			}
			g.CreatedAt = want.CreatedAt
			if g != want {
				t.Errorf("%s: attachment %+v, want %+v", where, g, want)
			}
		}
		h, err := s.History(ctx, bob.UserID, "alice", 0, 50)
		if err != nil || len(h.Messages) != 2 {
			t.Fatalf("history: %v, %d messages", err, len(h.Messages))
		}
		check("history", h.Messages[0].Attachment)
		if h.Messages[1].Attachment != nil {
			t.Error("a message without a file has one in the history")
		}
		after, err := s.MessagesAfter(ctx, m.ConversationID, 0, 10)
		if err != nil || len(after) != 2 {
			t.Fatalf("messages after: %v", err)
		}
		check("messages after", after[0].Attachment)
		byID, err := s.MessageByID(ctx, m.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		check("by id", byID.Attachment)
		send(t, s, alice, bob, "newest, no file")

		// The users list shows the newest message; a message with a file at the top carries it.
		m2, _, err := s.SendMessage(ctx, store.SendInput{SenderID: bob.UserID, RecipientID: alice.UserID, Attachment: &models.Attachment{SHA256: sha, Name: "again.png", Size: 1234, ContentType: "image/png"}})
		if err != nil {
			t.Fatal(err)
		}
		contacts, err := s.Contacts(ctx, alice.UserID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range contacts {
			if c.UserID == bob.UserID && (c.LastMessage == nil || c.LastMessage.Attachment == nil || c.LastMessage.Attachment.Name != "again.png") {
				t.Errorf("users list row: %+v", c.LastMessage)
			}
		}

		// A retry: the same file is the same message; another file under the same client id is a conflict.
		if again, created, err := s.SendMessage(ctx, in); err != nil || created || again.MessageID != m.MessageID {
			t.Errorf("retry: %v %v", created, err)
		}
		other := in
		other.Attachment = &models.Attachment{SHA256: strings.Repeat("cd", 32), Name: "dog.png", Size: 1, ContentType: "image/png"}
		if _, _, err := s.SendMessage(ctx, other); !errors.Is(err, store.ErrConflict) {
			t.Errorf("another file under a used client id: %v", err)
		}

		if got, err := s.AttachmentFor(ctx, m.Attachment.AttachmentID, bob.UserID); err != nil || got.SHA256 != sha {
			t.Errorf("the recipient: %v", err)
		}
		if _, err := s.AttachmentFor(ctx, m.Attachment.AttachmentID, carol.UserID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a third user: %v", err)
		}
		if n, err := s.UploadedBytes(ctx, alice.UserID); err != nil || n != 1234 {
			t.Errorf("alice uploaded %d (%v), want 1234", n, err)
		}

		if _, last, err := s.DeleteMessageAttachment(ctx, m.MessageID); err != nil || last {
			t.Errorf("first of two copies: last=%v err=%v", last, err)
		}
		if _, last, err := s.DeleteMessageAttachment(ctx, m2.MessageID); err != nil || !last {
			t.Errorf("last copy: last=%v err=%v", last, err)
		}
		if _, _, err := s.DeleteMessageAttachment(ctx, m2.MessageID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("again: %v", err)
		}
	})
}
