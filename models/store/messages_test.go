package store_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"messenger/models"
	"messenger/models/store"
)

func TestSendMessageSequencesPerConversation(t *testing.T) {
	// Each step sends one message; want is the seq it must get.
	steps := []struct {
		from, to string
		want     int64
	}{
		{"alice", "bob", 1},
		{"bob", "alice", 2},
		{"alice", "carol", 1},
		{"alice", "bob", 3},
		{"carol", "alice", 2},
		{"bob", "carol", 1},
		{"bob", "alice", 4},
	}
	eachDialect(t, func(t *testing.T, s *store.Store) {
		users := map[string]models.User{}
		for _, name := range []string{"alice", "bob", "carol"} {
			users[name] = createUser(t, s, name)
		}
		for i, st := range steps {
			body := fmt.Sprintf("message %d <b>&</b>", i)
			m := send(t, s, users[st.from], users[st.to], body)
			if m.Seq != st.want {
				t.Errorf("step %d %s→%s: seq %d, want %d", i, st.from, st.to, m.Seq, st.want)
			}
			if m.MessageID == 0 || m.ConversationID == 0 {
				t.Errorf("step %d: ids not set: %+v", i, m.Message)
			}
			if m.SenderUsername != st.from || m.RecipientUsername != st.to {
				t.Errorf("step %d: usernames %q→%q, want %q→%q", i, m.SenderUsername, m.RecipientUsername, st.from, st.to)
			}
			if m.SenderUserID != users[st.from].UserID || m.RecipientUserID != users[st.to].UserID {
				t.Errorf("step %d: user ids %d→%d", i, m.SenderUserID, m.RecipientUserID)
			}
			if !m.Unread || m.MessageBody != body || m.MessageDate.IsZero() || m.ClientID != nil {
				t.Errorf("step %d: unread=%v body=%q date=%v client=%v", i, m.Unread, m.MessageBody, m.MessageDate, m.ClientID)
			}
			conv := conversation(t, s, users[st.from], users[st.to])
			if conv.ConversationID != m.ConversationID || conv.LastSeq != st.want ||
				conv.LastMessageID == nil || *conv.LastMessageID != m.MessageID {
				t.Errorf("step %d: conversation %+v does not point at message %d seq %d", i, conv, m.MessageID, st.want)
			}
		}
	})
}

func TestSendMessageIdempotency(t *testing.T) {
	type attempt struct {
		from, clientID string
	}
	tests := []struct {
		name  string
		sends []attempt
		rows  int64 // messages stored in the end
	}{
		{"same sender same client id", []attempt{{"alice", "c-1"}, {"alice", "c-1"}}, 1},
		{"same client id from two senders", []attempt{{"alice", "c-1"}, {"bob", "c-1"}}, 2},
		{"different client ids", []attempt{{"alice", "c-1"}, {"alice", "c-2"}}, 2},
		{"no client id never deduplicates", []attempt{{"alice", ""}, {"alice", ""}}, 2},
	}
	eachDialect(t, func(t *testing.T, s *store.Store) {
		db := rawDB(t, s.URL())
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				exec(t, s, db, `DELETE FROM users`)
				users := map[string]models.User{"alice": createUser(t, s, "alice"), "bob": createUser(t, s, "bob")}
				peer := map[string]string{"alice": "bob", "bob": "alice"}
				seen := map[attempt]int64{}
				for i, sd := range tc.sends {
					m, created, err := s.SendMessage(t.Context(), store.SendInput{
						SenderID: users[sd.from].UserID, RecipientID: users[peer[sd.from]].UserID,
						Body: "body of " + sd.from + sd.clientID, ClientID: sd.clientID,
					})
					if err != nil {
						t.Fatalf("send %d: %v", i, err)
					}
					earlier, repeat := seen[sd]
					if repeat && sd.clientID != "" {
						if created || m.MessageID != earlier {
							t.Errorf("send %d repeated %+v: created=%v id=%d, want created=false id=%d", i, sd, created, m.MessageID, earlier)
						}
						if m.MessageBody != "body of "+sd.from+sd.clientID {
							t.Errorf("send %d: the repeat answered with body %q, want the first message's", i, m.MessageBody)
						}
						continue
					}
					if !created {
						t.Errorf("send %d %+v: created=false for a new message", i, sd)
					}
					if sd.clientID != "" && m.ClientIDValue() != sd.clientID {
						t.Errorf("send %d: client id %q, want %q", i, m.ClientIDValue(), sd.clientID)
					}
					seen[sd] = m.MessageID
				}
				if got := countRows(t, s, db, `SELECT COUNT(*) FROM messages`); got != tc.rows {
					t.Errorf("%d messages stored, want %d", got, tc.rows)
				}
			})
		}
	})
}

// A client id names one message: reused for another recipient or another text it is refused, never
// answered with the earlier message (which would hand one conversation's message to another).
func TestSendMessageReusedClientIDConflicts(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		first, created, err := s.SendMessage(t.Context(), store.SendInput{SenderID: alice.UserID, RecipientID: bob.UserID, Body: "hi", ClientID: "c-1"})
		if err != nil || !created {
			t.Fatalf("first send: created=%v %v", created, err)
		}
		for _, in := range []store.SendInput{
			{SenderID: alice.UserID, RecipientID: carol.UserID, Body: "hi", ClientID: "c-1"},
			{SenderID: alice.UserID, RecipientID: bob.UserID, Body: "another text", ClientID: "c-1"},
		} {
			m, _, err := s.SendMessage(t.Context(), in)
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("reuse %+v: %v, want ErrConflict", in, err)
			}
			if m.MessageID != 0 || m.MessageBody != "" {
				t.Errorf("reuse %+v answered with message %d %q", in, m.MessageID, m.MessageBody)
			}
		}
		again, created, err := s.SendMessage(t.Context(), store.SendInput{SenderID: alice.UserID, RecipientID: bob.UserID, Body: "hi", ClientID: "c-1"})
		if err != nil || created || again.MessageID != first.MessageID {
			t.Errorf("true retry: id %d created=%v %v, want id %d", again.MessageID, created, err, first.MessageID)
		}
		if got := countRows(t, s, rawDB(t, s.URL()), `SELECT COUNT(*) FROM messages`); got != 1 {
			t.Errorf("%d messages stored, want 1", got)
		}
	})
}

// Racing sends of one client id to two recipients: one is stored, the other refused, whichever wins.
func TestSendMessageConcurrentReusedClientID(t *testing.T) {
	const n = 20
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			to := bob.UserID
			if i%2 == 1 {
				to = carol.UserID
			}
			wg.Go(func() {
				m, _, err := s.SendMessage(t.Context(), store.SendInput{SenderID: alice.UserID, RecipientID: to, Body: "hello", ClientID: "raced"})
				errs[i] = err
				if err == nil && m.RecipientUserID != to {
					t.Errorf("send %d to %d answered with a message to %d", i, to, m.RecipientUserID)
				}
			})
		}
		wg.Wait()
		var conflicts int
		for i, err := range errs {
			switch {
			case errors.Is(err, store.ErrConflict):
				conflicts++
			case err != nil:
				t.Errorf("send %d: %v", i, err)
			}
		}
		if conflicts != n/2 {
			t.Errorf("%d sends refused, want the %d to the recipient that lost", conflicts, n/2)
		}
		if got := countRows(t, s, rawDB(t, s.URL()), `SELECT COUNT(*) FROM messages`); got != 1 {
			t.Errorf("%d messages stored, want 1", got)
		}
	})
}

func TestSendMessageConcurrentSameClientID(t *testing.T) {
	const n = 20
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob := createUser(t, s, "alice"), createUser(t, s, "bob")
		type result struct {
			id      int64
			created bool
			err     error
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				m, created, err := s.SendMessage(t.Context(), store.SendInput{
					SenderID: alice.UserID, RecipientID: bob.UserID, Body: "hello", ClientID: "same-key",
				})
				results[i] = result{m.MessageID, created, err}
			})
		}
		wg.Wait()
		var created int
		for i, r := range results {
			if r.err != nil {
				t.Errorf("send %d: %v", i, r.err)
				continue
			}
			if r.created {
				created++
			}
			if r.id != results[0].id {
				t.Errorf("send %d answered message %d, send 0 message %d", i, r.id, results[0].id)
			}
		}
		if created != 1 {
			t.Errorf("%d sends report created, want 1", created)
		}
		if got := countRows(t, s, rawDB(t, s.URL()), `SELECT COUNT(*) FROM messages`); got != 1 {
			t.Errorf("%d messages stored, want 1", got)
		}
	})
}

func TestSendMessageConcurrentSendersKeepOrder(t *testing.T) {
	const perSender = 200
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob := createUser(t, s, "alice"), createUser(t, s, "bob")
		pairs := [][2]models.User{{alice, bob}, {bob, alice}}
		errs := make([]error, len(pairs))
		var wg sync.WaitGroup
		for i, p := range pairs {
			wg.Go(func() {
				for k := range perSender {
					_, _, err := s.SendMessage(t.Context(), store.SendInput{
						SenderID: p[0].UserID, RecipientID: p[1].UserID,
						Body: fmt.Sprintf("%s %03d", p[0].Username, k), ClientID: fmt.Sprintf("k%d", k),
					})
					if err != nil {
						errs[i] = err
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}

		conv := conversation(t, s, alice, bob)
		msgs, err := s.MessagesAfter(t.Context(), conv.ConversationID, 0, 10*perSender)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 2*perSender {
			t.Fatalf("%d messages, want %d", len(msgs), 2*perSender)
		}
		next := map[string]int{}
		var newest models.ExtendedMessage
		for i, m := range msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("message %d has seq %d: seqs must be exactly 1..%d", i, m.Seq, 2*perSender)
			}
			if want := fmt.Sprintf("%s %03d", m.SenderUsername, next[m.SenderUsername]); m.MessageBody != want {
				t.Fatalf("seq %d is %q, want %q: a sender's order was not kept", m.Seq, m.MessageBody, want)
			}
			next[m.SenderUsername]++
			newest = m
		}
		if conv.LastSeq != 2*perSender || conv.LastMessageID == nil || *conv.LastMessageID != newest.MessageID {
			t.Errorf("conversation last_seq=%d last_message_id=%v, want %d and %d", conv.LastSeq, conv.LastMessageID, 2*perSender, newest.MessageID)
		}
		if got := countRows(t, s, rawDB(t, s.URL()), `SELECT COUNT(*) FROM messages`); got != 2*perSender {
			t.Errorf("%d rows, want %d", got, 2*perSender)
		}
	})
}

func TestMessagesBeforePagesBack(t *testing.T) {
	const total, limit = 120, 50
	wantPages := []struct {
		size     int
		hasOlder bool
	}{{50, true}, {50, true}, {20, false}}
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		for i := range total {
			from, to := alice, bob
			if i%3 == 0 {
				from, to = bob, alice
			}
			send(t, s, from, to, fmt.Sprintf("m%d", i+1))
			if i%10 == 0 {
				send(t, s, alice, carol, "noise") // another conversation interleaved
			}
		}
		conv := conversation(t, s, alice, bob)

		covered := map[int64]bool{}
		before := int64(0)
		for p, want := range wantPages {
			page, err := s.MessagesBefore(t.Context(), conv.ConversationID, before, limit)
			if err != nil {
				t.Fatalf("page %d: %v", p, err)
			}
			if len(page.Messages) != want.size || page.HasOlder != want.hasOlder {
				t.Fatalf("page %d: %d messages, HasOlder=%v; want %d, %v", p, len(page.Messages), page.HasOlder, want.size, want.hasOlder)
			}
			for i, m := range page.Messages {
				if m.ConversationID != conv.ConversationID {
					t.Errorf("page %d holds message %d of conversation %d", p, m.MessageID, m.ConversationID)
				}
				if i > 0 && m.Seq != page.Messages[i-1].Seq+1 {
					t.Errorf("page %d: seq %d follows %d, want oldest first without gaps", p, m.Seq, page.Messages[i-1].Seq)
				}
				if m.MessageBody != fmt.Sprintf("m%d", m.Seq) {
					t.Errorf("seq %d holds %q", m.Seq, m.MessageBody)
				}
				if before != 0 && m.Seq >= before {
					t.Errorf("page %d: seq %d is not before the cursor %d", p, m.Seq, before)
				}
				if covered[m.Seq] {
					t.Errorf("seq %d on two pages", m.Seq)
				}
				covered[m.Seq] = true
			}
			before = page.Messages[0].Seq
		}
		if len(covered) != total {
			t.Errorf("pages covered %d messages, want %d", len(covered), total)
		}

		empty, err := s.MessagesBefore(t.Context(), conv.ConversationID, 1, limit)
		if err != nil || len(empty.Messages) != 0 || empty.HasOlder {
			t.Errorf("before seq 1: %+v, %v; want an empty page", empty, err)
		}
	})
}

func TestMessagesAfter(t *testing.T) {
	tests := []struct {
		after int64
		limit int
		want  []int64
	}{
		{0, 100, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{7, 100, []int64{8, 9, 10}},
		{7, 2, []int64{8, 9}},
		{10, 100, nil},
		{99, 100, nil},
	}
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		for i := range 10 {
			send(t, s, alice, bob, fmt.Sprint(i))
			send(t, s, carol, alice, "other conversation")
		}
		conv := conversation(t, s, alice, bob)
		for _, tc := range tests {
			msgs, err := s.MessagesAfter(t.Context(), conv.ConversationID, tc.after, tc.limit)
			if err != nil {
				t.Fatalf("MessagesAfter(%d, %d): %v", tc.after, tc.limit, err)
			}
			var got []int64
			for _, m := range msgs {
				got = append(got, m.Seq)
				if m.ConversationID != conv.ConversationID || m.SenderUsername != "alice" {
					t.Errorf("MessagesAfter returned %+v", m)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("MessagesAfter(%d, %d) seqs %v, want %v", tc.after, tc.limit, got, tc.want)
			}
		}
	})
}

func TestConversationAccess(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		ab := send(t, s, alice, bob, "between alice and bob")
		bc := send(t, s, bob, carol, "between bob and carol")
		tests := []struct {
			name         string
			conversation int64
			message      int64
			found        bool
		}{
			{"own message", ab.ConversationID, ab.MessageID, true},
			{"another pair's message", ab.ConversationID, bc.MessageID, false},
			{"the other way round", bc.ConversationID, ab.MessageID, false},
			{"unknown message", ab.ConversationID, bc.MessageID + 100, false},
		}
		for _, tc := range tests {
			m, err := s.MessageInConversation(t.Context(), tc.conversation, tc.message)
			switch {
			case tc.found && (err != nil || m.MessageID != tc.message):
				t.Errorf("%s: %+v, %v", tc.name, m, err)
			case !tc.found && !errors.Is(err, store.ErrNotFound):
				t.Errorf("%s: %+v, %v; want ErrNotFound", tc.name, m, err)
			}
		}
		if _, err := s.ConversationBetween(t.Context(), alice.UserID, carol.UserID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("conversation that never started: %v, want ErrNotFound", err)
		}
	})
}

func TestMarkRead(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		send(t, s, alice, bob, "a1")
		send(t, s, bob, alice, "b1")
		send(t, s, alice, bob, "a2")
		newestToBob := send(t, s, alice, bob, "a3")
		send(t, s, bob, alice, "b2")
		send(t, s, carol, bob, "c1")
		conv := conversation(t, s, alice, bob)

		unread := func(u models.User) int64 {
			n, err := s.UnreadCount(t.Context(), u.UserID)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if got := unread(bob); got != 4 {
			t.Errorf("bob has %d unread before reading, want 4", got)
		}
		if got := unread(alice); got != 2 {
			t.Errorf("alice has %d unread, want 2", got)
		}

		steps := []struct {
			reader             models.User
			wantCount, wantID  int64
			wantBob, wantAlice int64
		}{
			{bob, 3, newestToBob.MessageID, 1, 2},
			{bob, 0, 0, 1, 2},
		}
		for i, st := range steps {
			n, id, err := s.MarkRead(t.Context(), conv.ConversationID, st.reader.UserID, conv.LastSeq)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if n != st.wantCount || id != st.wantID {
				t.Errorf("step %d: MarkRead = %d, %d; want %d, %d", i, n, id, st.wantCount, st.wantID)
			}
			if got := unread(bob); got != st.wantBob {
				t.Errorf("step %d: bob has %d unread, want %d (carol's message stays unread)", i, got, st.wantBob)
			}
			if got := unread(alice); got != st.wantAlice {
				t.Errorf("step %d: alice has %d unread, want %d (her incoming messages are untouched)", i, got, st.wantAlice)
			}
		}
		msgs, err := s.MessagesAfter(t.Context(), conv.ConversationID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if want := m.RecipientUserID != bob.UserID; m.Unread != want {
				t.Errorf("%q unread=%v, want %v", m.MessageBody, m.Unread, want)
			}
		}
	})
}
