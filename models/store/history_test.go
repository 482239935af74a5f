package store_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"messenger/models"
	"messenger/models/store"
	"messenger/models/store/storetest"
)

func TestHistory(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "Bob"), createUser(t, s, "carol")
		var sent []int64
		for i := range 7 {
			from, to := alice, bob
			if i%2 == 1 {
				from, to = bob, alice
			}
			sent = append(sent, send(t, s, from, to, fmt.Sprintf("m%d", i+1)).MessageID)
		}
		other := send(t, s, alice, carol, "to carol")
		ctx := t.Context()

		h, err := s.History(ctx, alice.UserID, "BOB", 0, 3) // a username is matched ignoring case
		if err != nil {
			t.Fatal(err)
		}
		conv := conversation(t, s, alice, bob)
		if h.Partner.UserID != bob.UserID || h.Partner.Username != "Bob" || h.Partner.FullName() != bob.FullName() || h.ConversationID != conv.ConversationID {
			t.Fatalf("partner %+v conversation %d, want bob and %d", h.Partner, h.ConversationID, conv.ConversationID)
		}
		checkPage := func(what string, h store.History, wantSeqs []int64, wantOlder bool) {
			t.Helper()
			var seqs []int64
			for _, m := range h.Messages {
				seqs = append(seqs, m.Seq)
				if m.MessageBody != fmt.Sprintf("m%d", m.Seq) || m.MessageID != sent[m.Seq-1] || m.ConversationID != conv.ConversationID ||
					(m.SenderUsername != "alice" && m.SenderUsername != "Bob") || m.SenderUsername == m.RecipientUsername || m.MessageDate.IsZero() {
					t.Errorf("%s: message %+v", what, m)
				}
			}
			if !slices.Equal(seqs, wantSeqs) || h.HasOlder != wantOlder {
				t.Errorf("%s: seqs %v older=%v, want %v older=%v", what, seqs, h.HasOlder, wantSeqs, wantOlder)
			}
		}
		checkPage("newest", h, []int64{5, 6, 7}, true)
		h, err = s.History(ctx, bob.UserID, "alice", sent[4], 3)
		if err != nil || h.Partner.UserID != alice.UserID {
			t.Fatalf("before seq 5: partner %d err %v", h.Partner.UserID, err)
		}
		checkPage("before seq 5", h, []int64{2, 3, 4}, true)
		h, err = s.History(ctx, bob.UserID, "alice", sent[1], 3)
		if err != nil {
			t.Fatal(err)
		}
		checkPage("before seq 2", h, []int64{1}, false)
		h, err = s.History(ctx, bob.UserID, "alice", sent[0], 3)
		if err != nil {
			t.Fatal(err)
		}
		checkPage("before seq 1", h, nil, false)

		// Never wrote: the partner, no conversation, no messages.
		h, err = s.History(ctx, bob.UserID, "carol", 0, 3)
		if err != nil || h.Partner.UserID != carol.UserID || h.ConversationID != 0 || len(h.Messages) != 0 || h.HasOlder {
			t.Fatalf("no conversation yet: %+v err %v", h, err)
		}
		for _, c := range []struct {
			what   string
			viewer int64
			name   string
			before int64
		}{
			{"unknown user", alice.UserID, "dave", 0},
			{"oneself", alice.UserID, "alice", 0},
			{"a cursor from another conversation", bob.UserID, "alice", other.MessageID},
			{"a cursor that is no message", bob.UserID, "alice", other.MessageID + 100},
			{"the largest cursor", bob.UserID, "alice", math.MaxInt64},
			{"a cursor without a conversation", bob.UserID, "carol", other.MessageID},
		} {
			if _, err := s.History(ctx, c.viewer, c.name, c.before, 3); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: err %v, want ErrNotFound", c.what, err)
			}
		}
	})
}

// TestHistoryUsesIndex checks that History's one query reads the page off the (conversation_id, seq)
// index, backwards and cut at the limit: no sort of the conversation, at any depth.
func TestHistoryUsesIndex(t *testing.T) {
	const n = 5_000
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			s, _ := seedConversation(t, dialect, n)
			alice, err := s.UserByUsername(t.Context(), "alice")
			if err != nil {
				t.Fatal(err)
			}
			rule := planRules[s.Dialect()]
			for _, before := range []int64{0, n / 2} {
				plan, err := s.ExplainHistory(t.Context(), alice.UserID, "bob", before, pageSize)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(strings.Split(plan, "\n"), rule.indexed) {
					t.Errorf("before %d: messages are not read through an index (want %q):\n%s", before, rule.describe, plan)
				}
				if strings.Contains(plan, rule.forbidden) {
					t.Errorf("before %d: plan contains %q:\n%s", before, rule.forbidden, plan)
				}
				t.Logf("before %d:\n%s", before, plan)
			}
		})
	}
}

// The history page reads messages with its own query and decoding: it must give what the other
// readers give, attachment, quote, edit, deletion and times included.
func TestHistoryReadsMessagesAsTheOtherReaders(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice, bob := createUser(t, s, "alice"), createUser(t, s, "bob")
		first := send(t, s, alice, bob, "a question?")
		gone := send(t, s, bob, alice, "soon deleted")
		att := &models.Attachment{SHA256: strings.Repeat("ab", 32), Name: "cat.png", Size: 1234, ContentType: "image/png",
			Width: 800, Height: 600, ThumbWidth: 480, ThumbHeight: 360}
		for _, in := range []store.SendInput{
			{SenderID: bob.UserID, RecipientID: alice.UserID, Body: "an answer", ClientID: "c-1", ReplyToID: first.MessageID},
			{SenderID: alice.UserID, RecipientID: bob.UserID, Body: "a picture", Attachment: att},
			{SenderID: alice.UserID, RecipientID: bob.UserID, Body: "to the deleted one", ReplyToID: gone.MessageID},
		} {
			if _, _, err := s.SendMessage(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.EditMessage(ctx, alice.UserID, bob.UserID, first.MessageID, "a better question?"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteMessage(ctx, bob.UserID, alice.UserID, gone.MessageID); err != nil {
			t.Fatal(err)
		}
		conv := conversation(t, s, alice, bob)
		want, err := s.MessagesAfter(ctx, conv.ConversationID, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.History(ctx, alice.UserID, "bob", 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		utc := func(msgs []models.ExtendedMessage) []models.ExtendedMessage {
			out := slices.Clone(msgs)
			for i := range out {
				m := &out[i]
				m.MessageDate = m.MessageDate.UTC()
				for _, p := range []**time.Time{&m.EditedAt, &m.DeletedAt} {
					if *p != nil {
						u := (*p).UTC()
						*p = &u
					}
				}
				if m.Attachment != nil {
					a := *m.Attachment
					a.CreatedAt = a.CreatedAt.UTC()
					m.Attachment = &a
				}
			}
			return out
		}
		got, wantUTC := utc(h.Messages), utc(want)
		if len(got) != 5 || !reflect.DeepEqual(got, wantUTC) {
			t.Fatalf("history page:\n%s\nthe messages read after 0:\n%s", dump(got), dump(wantUTC))
		}
		if got[2].ReplyTo == nil || got[2].ReplyTo.Body != "a better question?" || got[4].ReplyTo == nil || !got[4].ReplyTo.Deleted ||
			got[3].Attachment == nil || got[1].DeletedAt == nil || got[0].EditedAt == nil {
			t.Fatalf("the page lacks what was sent:\n%s", dump(got))
		}
	})
}

func dump(msgs []models.ExtendedMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%+v", m)
		if m.Attachment != nil {
			fmt.Fprintf(&b, " attachment %+v", *m.Attachment)
		}
		if m.ReplyTo != nil {
			fmt.Fprintf(&b, " quote %+v", *m.ReplyTo)
		}
		b.WriteString("\n")
	}
	return b.String()
}
