package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"messenger/migrations"
	"messenger/models"
	"messenger/models/store"
	"messenger/models/store/storetest"
)

// holdFirstBatch makes the store's first send transaction wait, holding the writer, until release is
// closed; entered is closed once it waits.
func holdFirstBatch(s *store.Store) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.InBatch(func() {
		once.Do(func() {
			close(entered)
			<-release
		})
	})
	return entered, release
}

// waitQueued waits until n sends are queued behind the held batch.
func waitQueued(t *testing.T, s *store.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.QueuedSends() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sends queued, want %d", s.QueuedSends(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// sendBehindHeldBatch sends first in a batch that it holds until every one of ins is queued behind
// it, in order, then lets both commit: ins are written in one transaction.
func sendBehindHeldBatch(t *testing.T, s *store.Store, first store.SendInput, ins []store.SendInput) (sent, []sent) {
	entered, release := holdFirstBatch(s)
	held := make(chan sent, 1)
	go func() {
		m, created, err := s.SendMessage(t.Context(), first)
		held <- sent{m, created, err}
	}()
	<-entered
	done := queueSends(t, s, ins)
	close(release)
	return <-held, <-done
}

func createUsers(tb testing.TB, s *store.Store, n int) []models.User {
	tb.Helper()
	users := make([]models.User, n)
	for i := range users {
		users[i] = createUser(tb, s, fmt.Sprintf("user%d", i))
	}
	return users
}

type sent struct {
	msg     models.ExtendedMessage
	created bool
	err     error
}

// queueSends queues every input, in order, behind a held batch, and returns a channel that will carry
// the results, in order, once the batch is released.
func queueSends(t *testing.T, s *store.Store, ins []store.SendInput) <-chan []sent {
	out := make([]sent, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Go(func() {
			m, created, err := s.SendMessage(t.Context(), in)
			out[i] = sent{m, created, err}
		})
		waitQueued(t, s, i+1)
	}
	done := make(chan []sent, 1)
	go func() {
		wg.Wait()
		done <- out
	}()
	return done
}

// Sends that arrive while a transaction is being written are written together in the next one, and
// each caller still gets its own message back.
func TestSendMessageGroupCommit(t *testing.T) {
	const n = 100
	eachDialect(t, func(t *testing.T, s *store.Store) {
		users := createUsers(t, s, 8)
		ins := make([]store.SendInput, n)
		for i := range ins {
			from, to := users[i%len(users)], users[(i/len(users)+i+1)%len(users)]
			if from.UserID == to.UserID {
				to = users[(i+1)%len(users)]
			}
			ins[i] = store.SendInput{SenderID: from.UserID, RecipientID: to.UserID, Body: fmt.Sprintf("body %d", i), ClientID: fmt.Sprintf("c%d", i)}
		}
		r, results := sendBehindHeldBatch(t, s, store.SendInput{SenderID: users[0].UserID, RecipientID: users[1].UserID, Body: "first"}, ins)
		if r.err != nil || !r.created || r.msg.Seq != 1 {
			t.Fatalf("first send: seq %d created=%v err=%v", r.msg.Seq, r.created, r.err)
		}
		if got := s.Batches(); got != 2 {
			t.Errorf("%d transactions for %d sends queued together, want 2 (the held one, then one for the rest)", got, n+1)
		}
		ids := map[int64]bool{}
		for i, r := range results {
			if r.err != nil || !r.created {
				t.Fatalf("send %d: created=%v err=%v", i, r.created, r.err)
			}
			m := r.msg
			if m.MessageBody != ins[i].Body || m.SenderUserID != ins[i].SenderID || m.RecipientUserID != ins[i].RecipientID ||
				m.ClientIDValue() != ins[i].ClientID || ids[m.MessageID] || m.MessageID == 0 {
				t.Errorf("send %d answered %+v", i, m)
			}
			ids[m.MessageID] = true
			stored, err := s.MessageByID(t.Context(), m.MessageID)
			if err != nil || stored.Seq != m.Seq || stored.ConversationID != m.ConversationID || stored.SenderUsername != m.SenderUsername ||
				stored.RecipientUsername != m.RecipientUsername || !stored.MessageDate.Equal(m.MessageDate) {
				t.Errorf("send %d answered %+v, stored %+v (%v)", i, m, stored, err)
			}
		}
		checkConversations(t, s, users)
	})
}

// checkConversations checks every conversation of users: seqs 1..last_seq without a gap, in the order
// of message ids, and the conversation row naming its newest message.
func checkConversations(t *testing.T, s *store.Store, users []models.User) {
	t.Helper()
	for i, a := range users {
		for _, b := range users[i+1:] {
			conv, err := s.ConversationBetween(t.Context(), a.UserID, b.UserID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := s.MessagesAfter(t.Context(), conv.ConversationID, 0, 10_000)
			if err != nil {
				t.Fatal(err)
			}
			for k, m := range msgs {
				if m.Seq != int64(k+1) || (k > 0 && m.MessageID <= msgs[k-1].MessageID) {
					t.Fatalf("%s-%s: message %d has seq %d id %d: want seqs 1..n in id order", a.Username, b.Username, k, m.Seq, m.MessageID)
				}
			}
			last := msgs[len(msgs)-1]
			if conv.LastSeq != last.Seq || conv.LastMessageID == nil || *conv.LastMessageID != last.MessageID ||
				conv.LastMessageAt == nil || !conv.LastMessageAt.Equal(last.MessageDate) {
				t.Errorf("%s-%s: conversation %+v, newest message %d seq %d", a.Username, b.Username, conv, last.MessageID, last.Seq)
			}
		}
	}
}

// A message that cannot be stored fails alone; retries and reused client ids in the same batch as
// their original get the original or ErrConflict.
func TestSendMessageBatchFailsOnlyTheBadRow(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		stored := send(t, s, alice, bob, "stored before")
		var kept2 models.ExtendedMessage
		for _, body := range []string{"kept", "kept2"} {
			m, _, err := s.SendMessage(t.Context(), store.SendInput{SenderID: alice.UserID, RecipientID: bob.UserID, Body: body, ClientID: "old-" + body})
			if err != nil {
				t.Fatal(err)
			}
			kept2 = m
		}
		entered, release := holdFirstBatch(s)
		go func() {
			_, _, _ = s.SendMessage(t.Context(), store.SendInput{SenderID: carol.UserID, RecipientID: bob.UserID, Body: "held"})
		}()
		<-entered
		ins := []store.SendInput{
			{SenderID: alice.UserID, RecipientID: bob.UserID, Body: "good 1", ClientID: "a1"},
			{SenderID: alice.UserID, RecipientID: 1_000_000, Body: "to nobody", ClientID: "a2"}, // no such user
			{SenderID: bob.UserID, RecipientID: alice.UserID, Body: "good 2", ClientID: "a1"},   // same id, other sender
			{SenderID: alice.UserID, RecipientID: carol.UserID, Body: "good 3"},
			{SenderID: alice.UserID, RecipientID: bob.UserID, Body: "kept", ClientID: "old-kept"},  // a retry of a stored one
			{SenderID: alice.UserID, RecipientID: bob.UserID, Body: "other", ClientID: "old-kept"}, // a stored id reused
			{SenderID: alice.UserID, RecipientID: bob.UserID, Body: "good 1", ClientID: "a1"},      // a retry in the same batch
			{SenderID: alice.UserID, RecipientID: carol.UserID, Body: "good 1", ClientID: "a1"},
			{SenderID: alice.UserID, RecipientID: carol.UserID, Body: "kept2", ClientID: "old-kept2"}, // a stored id reused first,
			{SenderID: alice.UserID, RecipientID: bob.UserID, Body: "kept2", ClientID: "old-kept2"},   // then retried
		}
		done := queueSends(t, s, ins)
		close(release)
		r := <-done
		for _, i := range []int{0, 2, 3} {
			if r[i].err != nil || !r[i].created || r[i].msg.MessageBody != ins[i].Body {
				t.Errorf("send %d (%s): created=%v err=%v", i, ins[i].Body, r[i].created, r[i].err)
			}
		}
		if r[1].err == nil {
			t.Errorf("send to a user that does not exist: no error")
		}
		if r[4].err != nil || r[4].created || r[4].msg.MessageBody != "kept" {
			t.Errorf("retry of a stored message: %+v created=%v err=%v", r[4].msg, r[4].created, r[4].err)
		}
		for _, i := range []int{5, 7, 8} {
			if !errors.Is(r[i].err, store.ErrConflict) {
				t.Errorf("send %d reuses a client id for another message: err=%v, want ErrConflict", i, r[i].err)
			}
		}
		if r[6].err != nil || r[6].created || r[6].msg.MessageID != r[0].msg.MessageID {
			t.Errorf("retry in the same batch: message %d created=%v err=%v, want message %d", r[6].msg.MessageID, r[6].created, r[6].err, r[0].msg.MessageID)
		}
		if r[9].err != nil || r[9].created || r[9].msg.MessageID != kept2.MessageID {
			t.Errorf("retry of a stored message after a refused reuse: message %d created=%v err=%v, want message %d", r[9].msg.MessageID, r[9].created, r[9].err, kept2.MessageID)
		}
		db := rawDB(t, s.URL())
		if got := countRows(t, s, db, `SELECT COUNT(*) FROM messages`); got != 7 {
			t.Errorf("%d messages stored, want 7 (3 before, held, good 1-3)", got)
		}
		if got := countRows(t, s, db, `SELECT COUNT(*) FROM messages WHERE message_id > ?`, stored.MessageID); got != 6 {
			t.Errorf("%d messages stored after the first, want 6", got)
		}
		checkConversations(t, s, []models.User{alice, bob, carol})
	})
}

// Reads do not wait for the writer: a page loads while a send transaction holds SQLite's one writer
// connection (PostgreSQL: one connection of the pool).
func TestReadsDoNotWaitForTheWriter(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		alice, bob := createUser(t, s, "alice"), createUser(t, s, "bob")
		m := send(t, s, alice, bob, "hello")
		entered, release := holdFirstBatch(s)
		defer close(release)
		go func() {
			_, _, _ = s.SendMessage(t.Context(), store.SendInput{SenderID: bob.UserID, RecipientID: alice.UserID, Body: "held"})
		}()
		<-entered
		u, err := s.UserByUsername(t.Context(), "bob")
		if err != nil || u.UserID != bob.UserID {
			t.Fatalf("user by username while a send holds the writer: %+v %v", u, err)
		}
		page, err := s.MessagesBefore(t.Context(), m.ConversationID, 0, 50)
		if err != nil || len(page.Messages) != 1 || page.Messages[0].MessageID != m.MessageID {
			t.Fatalf("page while a send holds the writer: %+v %v", page, err)
		}
	})
}

// A message is on disk before SendMessage returns: SQLite syncs the WAL at every commit. The writer
// keeps its statement journal in memory and a cache of 32 MiB (the group commit's cost under load,
// docs/PERFORMANCE.md), and checkpoints itself only past 16384 pages of WAL (the checkpointer's work,
// checkpoint.go).
func TestSQLiteCommitsAreDurable(t *testing.T) {
	s := storetest.Open(t, string(migrations.SQLite))
	for pragma, want := range map[string]string{"synchronous": "2", "journal_mode": "wal", // 2: FULL
		"temp_store": "2", "cache_size": "-32768", "wal_autocheckpoint": "16384"} { // 2: MEMORY
		got, err := s.WriterPragma(t.Context(), pragma)
		if err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", pragma, got, err, want)
		}
	}
}

// On PostgreSQL every committed message is announced by its own transaction, once, and a message
// whose transaction rolled back is not: a listener hears exactly the stored messages, in commit order.
func TestSendsAnnouncedInTheirTransaction(t *testing.T) {
	s := storetest.Open(t, string(migrations.Postgres))
	ctx := t.Context()
	listener, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(context.Background())
	if _, err := listener.Exec(ctx, "LISTEN test_sends"); err != nil {
		t.Fatal(err)
	}
	// A payload per message: a batch sends several notifications, which must keep their order.
	if !s.AnnounceSends(func(msgs []models.ExtendedMessage) (string, []string) {
		var ids []string
		for _, m := range msgs {
			ids = append(ids, strconv.FormatInt(m.MessageID, 10))
		}
		return "test_sends", ids
	}) {
		t.Fatal("AnnounceSends refused on PostgreSQL")
	}
	alice, bob := createUser(t, s, "alice"), createUser(t, s, "bob")
	dup := store.SendInput{SenderID: alice.UserID, RecipientID: bob.UserID, Body: "before", ClientID: "dup"}
	before, _, err := s.SendMessage(ctx, dup)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := holdFirstBatch(s)
	held := make(chan sent, 1)
	go func() {
		m, created, err := s.SendMessage(ctx, store.SendInput{SenderID: bob.UserID, RecipientID: alice.UserID, Body: "held"})
		held <- sent{m, created, err}
	}()
	<-entered
	// The retry of a stored message makes the batch's first attempt roll back: the ids that attempt
	// took are never announced; the second attempt's are, once.
	ins := []store.SendInput{dup}
	for i := range 20 {
		ins = append(ins, store.SendInput{SenderID: alice.UserID, RecipientID: bob.UserID, Body: fmt.Sprintf("m%d", i), ClientID: fmt.Sprintf("c%d", i)})
	}
	done := queueSends(t, s, ins)
	close(release)
	results := <-done
	h := <-held
	if h.err != nil {
		t.Fatal(h.err)
	}
	if results[0].err != nil || results[0].created || results[0].msg.MessageID != before.MessageID {
		t.Fatalf("retry: message %d created=%v err=%v, want message %d", results[0].msg.MessageID, results[0].created, results[0].err, before.MessageID)
	}
	want := []int64{before.MessageID, h.msg.MessageID}
	for i, r := range results[1:] {
		if r.err != nil || !r.created {
			t.Fatalf("send %d: created=%v err=%v", i, r.created, r.err)
		}
		want = append(want, r.msg.MessageID)
	}
	last := send(t, s, bob, alice, "after") // heard last: notifications arrive in commit order
	want = append(want, last.MessageID)

	var heard []int64
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for !slices.Contains(heard, last.MessageID) {
		n, err := listener.WaitForNotification(wait)
		if err != nil {
			t.Fatalf("heard %v, want %v: %v", heard, want, err)
		}
		for _, id := range strings.Split(n.Payload, ",") {
			v, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				t.Fatalf("payload %q", n.Payload)
			}
			heard = append(heard, v)
		}
	}
	slices.Sort(heard)
	slices.Sort(want)
	if !slices.Equal(heard, want) {
		t.Errorf("heard %v, want each stored message once: %v", heard, want)
	}
	if s.Batches() != 4 {
		t.Errorf("%d transactions committed, want 4 (before, held, the batch, after)", s.Batches())
	}
}
