package store_test

import (
	"testing"

	"messenger/models"
	"messenger/models/store"
)

// A reader is marked as having read only what they were shown: the messages up to the seq their page
// or socket was given. One that arrived after that stays unread, even though it is already stored when
// the mark runs.
func TestMarkReadStopsAtTheSeqShown(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		a1 := send(t, s, alice, bob, "a1")
		b1 := send(t, s, bob, alice, "b1")
		a2 := send(t, s, alice, bob, "a2") // the newest message bob's page shows
		a3 := send(t, s, alice, bob, "a3") // arrives after bob's page was rendered
		send(t, s, carol, bob, "c1")
		conv := conversation(t, s, alice, bob)

		unread := func(u models.User) int64 {
			t.Helper()
			n, err := s.UnreadCount(t.Context(), u.UserID)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		steps := []struct {
			name               string
			reader             models.User
			shown              int64
			wantCount, wantID  int64
			wantBob, wantAlice int64
		}{
			{"nothing shown", bob, 0, 0, 0, 4, 1},
			{"shown up to a1", bob, a1.Seq, 1, a1.MessageID, 3, 1},
			{"shown up to a2: a3 came later", bob, a2.Seq, 1, a2.MessageID, 2, 1},
			{"the same mark again", bob, a2.Seq, 0, 0, 2, 1},
			{"alice's mark leaves bob's messages alone", alice, a3.Seq, 1, b1.MessageID, 2, 0},
			{"shown up to a3", bob, a3.Seq, 1, a3.MessageID, 1, 0},
		}
		for _, st := range steps {
			n, id, err := s.MarkRead(t.Context(), conv.ConversationID, st.reader.UserID, st.shown)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if n != st.wantCount || id != st.wantID {
				t.Errorf("%s: MarkRead = %d, %d; want %d, %d", st.name, n, id, st.wantCount, st.wantID)
			}
			if got := unread(bob); got != st.wantBob {
				t.Errorf("%s: bob has %d unread, want %d", st.name, got, st.wantBob)
			}
			if got := unread(alice); got != st.wantAlice {
				t.Errorf("%s: alice has %d unread, want %d", st.name, got, st.wantAlice)
			}
		}
		msgs, err := s.MessagesAfter(t.Context(), conv.ConversationID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Unread {
				t.Errorf("%q still unread after both read everything shown", m.MessageBody)
			}
		}
	})
}
