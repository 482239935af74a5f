package store_test

import (
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/pressly/goose/v3"

	"messenger/migrations"
	"messenger/models"
	"messenger/models/store"
	"messenger/models/store/storetest"
)

// countersDisagreeSQL lists the conversations whose kept unread counters differ from a count of the
// unread flags of their messages: none, whatever happened.
const countersDisagreeSQL = `SELECT COUNT(*) FROM conversations c
WHERE c.low_unread <> (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.conversation_id AND m.recipient_user_id = c.user_low_id AND m.unread)
   OR c.high_unread <> (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.conversation_id AND m.recipient_user_id = c.user_high_id AND m.unread)`

func assertCountersMatchFlags(tb testing.TB, s *store.Store, db *sql.DB, when string) {
	tb.Helper()
	if n := countRows(tb, s, db, countersDisagreeSQL); n != 0 {
		tb.Errorf("%s: %d conversations' unread counters differ from their unread messages", when, n)
	}
}

// A send returns each one's unread count in the conversation right after it, MarkRead brings the
// reader's down, and the users list and UnreadBetween read the same counters, in both directions and
// with other conversations beside.
func TestUnreadCounters(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		db := rawDB(t, s.URL())
		u := map[string]models.User{}
		for _, name := range []string{"alice", "bob", "carol"} {
			u[name] = createUser(t, s, name)
		}
		markRead := func(reader, partner string) {
			t.Helper()
			conv := conversation(t, s, u[reader], u[partner])
			if _, _, err := s.MarkRead(t.Context(), conv.ConversationID, u[reader].UserID, conv.LastSeq); err != nil {
				t.Fatal(err)
			}
		}
		steps := []struct {
			from, to string // a send, or with read set, from reads everything to showed
			read     bool
			// after the step: the sender's and the recipient's count (for a read: the reader's and the
			// partner's), as the send returns them and as UnreadBetween and Contacts read them
			wantFrom, wantTo int64
		}{
			{from: "alice", to: "bob", wantFrom: 0, wantTo: 1},
			{from: "alice", to: "bob", wantFrom: 0, wantTo: 2},
			{from: "bob", to: "alice", wantFrom: 2, wantTo: 1},
			{from: "carol", to: "bob", wantFrom: 0, wantTo: 1}, // bob's other conversation
			{from: "bob", to: "alice", wantFrom: 2, wantTo: 2},
			{from: "bob", to: "alice", read: true, wantFrom: 0, wantTo: 2},
			{from: "bob", to: "alice", wantFrom: 0, wantTo: 3},
			{from: "alice", to: "bob", read: true, wantFrom: 0, wantTo: 0},
			{from: "alice", to: "bob", read: true, wantFrom: 0, wantTo: 0}, // nothing left to read
			{from: "alice", to: "carol", wantFrom: 0, wantTo: 1},
			{from: "bob", to: "carol", read: true, wantFrom: 0, wantTo: 0},
			{from: "alice", to: "bob", wantFrom: 0, wantTo: 1},
		}
		for i, st := range steps {
			what := fmt.Sprintf("step %d (%s → %s, read %v)", i, st.from, st.to, st.read)
			if st.read {
				markRead(st.from, st.to)
			} else {
				m := send(t, s, u[st.from], u[st.to], what)
				if m.SenderUnread != st.wantFrom || m.RecipientUnread != st.wantTo {
					t.Errorf("%s: the send returned %d, %d; want %d, %d", what, m.SenderUnread, m.RecipientUnread, st.wantFrom, st.wantTo)
				}
			}
			from, to, err := s.UnreadBetween(t.Context(), u[st.from].UserID, u[st.to].UserID)
			if err != nil || from != st.wantFrom || to != st.wantTo {
				t.Errorf("%s: UnreadBetween = %d, %d, %v; want %d, %d", what, from, to, err, st.wantFrom, st.wantTo)
			}
			for _, side := range []struct {
				viewer, other string
				want          int64
			}{{st.from, st.to, st.wantFrom}, {st.to, st.from, st.wantTo}} {
				c, err := s.Contact(t.Context(), u[side.viewer].UserID, u[side.other].UserID)
				if err != nil || c.Unread != side.want {
					t.Errorf("%s: %s's row for %s shows %d unread (%v), want %d", what, side.viewer, side.other, c.Unread, err, side.want)
				}
			}
			assertCountersMatchFlags(t, s, db, what)
		}
		if a, b, err := s.UnreadBetween(t.Context(), u["carol"].UserID, u["carol"].UserID+100); err != nil || a != 0 || b != 0 {
			t.Errorf("UnreadBetween two users who never wrote = %d, %d, %v; want 0, 0", a, b, err)
		}
	})
}

// Sends queued behind a held batch are written in one: a conversation takes several messages in both
// directions in it, and each message still carries the counts right after it.
func TestUnreadCountersInOneBatch(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		db := rawDB(t, s.URL())
		users := createUsers(t, s, 6)
		var ins []store.SendInput
		for k := range 30 {
			p := k % 3 // three conversations; the direction changes irregularly within each
			from, to := users[2*p], users[2*p+1]
			if k%4 == 1 || k%7 == 0 {
				from, to = to, from
			}
			ins = append(ins, store.SendInput{SenderID: from.UserID, RecipientID: to.UserID, Body: fmt.Sprint(k)})
		}
		held, results := sendBehindHeldBatch(t, s, store.SendInput{SenderID: users[0].UserID, RecipientID: users[1].UserID, Body: "held"}, ins)
		results = append(results, held)
		if got := s.Batches(); got != 2 {
			t.Fatalf("%d batches, want 2: the held one and the one queued behind it", got)
		}
		// Nobody read: within a conversation, in seq order, each message raises its recipient's count
		// by one and leaves its sender's as it was.
		byConv := map[int64]map[int64]models.ExtendedMessage{}
		for _, r := range results {
			if r.err != nil {
				t.Fatal(r.err)
			}
			if byConv[r.msg.ConversationID] == nil {
				byConv[r.msg.ConversationID] = map[int64]models.ExtendedMessage{}
			}
			byConv[r.msg.ConversationID][r.msg.Seq] = r.msg
		}
		for conv, bySeq := range byConv {
			unread := map[int64]int64{}
			for seq := int64(1); seq <= int64(len(bySeq)); seq++ {
				m := bySeq[seq]
				unread[m.RecipientUserID]++
				if m.RecipientUnread != unread[m.RecipientUserID] || m.SenderUnread != unread[m.SenderUserID] {
					t.Errorf("conversation %d seq %d: counts %d (sender), %d (recipient); want %d, %d", conv, seq,
						m.SenderUnread, m.RecipientUnread, unread[m.SenderUserID], unread[m.RecipientUserID])
				}
			}
		}
		assertCountersMatchFlags(t, s, db, "after the batches")
	})
}

// A database written before the counters existed gets them counted from its unread messages.
func TestUnreadCountersBackfilled(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			url := storetest.URL(t, dialect)
			target, err := store.ParseURL(url)
			if err != nil {
				t.Fatal(err)
			}
			db := rawDB(t, url)
			gooseDialect := goose.DialectPostgres
			if target.Dialect == migrations.SQLite {
				gooseDialect = goose.DialectSQLite3
			}
			p, err := goose.NewProvider(gooseDialect, db, os.DirFS("../../migrations/"+string(target.Dialect)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(t.Context(), 6); err != nil {
				t.Fatalf("migrate to 6: %v", err)
			}
			q := func(query string, args ...any) int64 {
				t.Helper()
				var id int64
				if err := db.QueryRowContext(t.Context(), store.Rebind(target.Dialect, query), args...).Scan(&id); err != nil {
					t.Fatalf("%s: %v", query, err)
				}
				return id
			}
			user := func(name string) int64 {
				return q(`INSERT INTO users (first_name, last_name, username, username_key, password)
					VALUES ('F', 'L', ?, ?, 'x') RETURNING user_id`, name, name)
			}
			alice, bob, carol := user("alice"), user("bob"), user("carol")
			// unread: sent to the pair's low user, then to its high user
			plant := func(low, high int64, toLow, toHigh []bool) int64 {
				conv := q(`INSERT INTO conversations (user_low_id, user_high_id, last_seq) VALUES (?, ?, ?) RETURNING conversation_id`,
					low, high, len(toLow)+len(toHigh))
				seq := 0
				for _, m := range []struct {
					from, to int64
					unread   []bool
				}{{high, low, toLow}, {low, high, toHigh}} {
					for _, unread := range m.unread {
						seq++
						q(`INSERT INTO messages (conversation_id, seq, message_body, sender_user_id, recipient_user_id, unread)
							VALUES (?, ?, 'old', ?, ?, ?) RETURNING message_id`, conv, seq, m.from, m.to, unread)
					}
				}
				return conv
			}
			plant(alice, bob, []bool{true, false, true}, []bool{false, true})
			plant(alice, carol, nil, []bool{true, true, true, true})
			plant(bob, carol, []bool{false}, nil)

			s, err := store.Open(t.Context(), url, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			for _, c := range []struct {
				a, b         int64
				wantA, wantB int64
			}{{alice, bob, 2, 1}, {alice, carol, 0, 4}, {carol, bob, 0, 0}} {
				a, b, err := s.UnreadBetween(t.Context(), c.a, c.b)
				if err != nil || a != c.wantA || b != c.wantB {
					t.Errorf("UnreadBetween(%d, %d) = %d, %d, %v; want %d, %d", c.a, c.b, a, b, err, c.wantA, c.wantB)
				}
			}
			assertCountersMatchFlags(t, s, db, "after the backfill")
			// The counters go on from the backfilled values.
			m, _, err := s.SendMessage(t.Context(), store.SendInput{SenderID: carol, RecipientID: alice, Body: "new"})
			if err != nil || m.SenderUnread != 4 || m.RecipientUnread != 1 {
				t.Errorf("a send after the backfill: %d, %d, %v; want 4, 1", m.SenderUnread, m.RecipientUnread, err)
			}
		})
	}
}
