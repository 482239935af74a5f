package store_test

// The paging benchmarks open and page back a conversation of 10^3 and 10^5 messages, or of
// BENCH_MESSAGES alone. The README's figures use a million:
//
//	BENCH_MESSAGES=1000000 .ci/with-postgres.sh go test -run '^$' -bench . -benchtime 200x -benchmem ./models/store/

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"messenger/migrations"
	"messenger/models"
	"messenger/models/store"
	"messenger/models/store/storetest"
)

const pageSize = 50

// benchSizes are the conversation lengths the paging benchmarks run at: 10^3 and 10^5 messages, or
// BENCH_MESSAGES alone when it is set.
func benchSizes(b *testing.B) []int {
	b.Helper()
	raw := os.Getenv("BENCH_MESSAGES")
	if raw == "" {
		return []int{1_000, 100_000}
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 2*pageSize {
		b.Fatalf("BENCH_MESSAGES=%q: want a number of at least %d", raw, 2*pageSize)
	}
	return []int{n}
}

// Seeding inserts every message in one INSERT … SELECT over a generated series of seq numbers; the
// two users alternate as sender, and the last ten messages are unread.
var seedMessagesSQL = map[migrations.Dialect]string{
	migrations.Postgres: `INSERT INTO messages (conversation_id, seq, message_date, message_body, sender_user_id, recipient_user_id, unread)
SELECT $1::bigint, g, now() - ($4 - g) * interval '1 second', 'message ' || g,
       CASE WHEN g % 2 = 0 THEN $2::bigint ELSE $3::bigint END, CASE WHEN g % 2 = 0 THEN $3::bigint ELSE $2::bigint END, g > $4 - 10
FROM generate_series(1, $4::bigint) AS g`,
	migrations.SQLite: `WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?4)
INSERT INTO messages (conversation_id, seq, message_date, message_body, sender_user_id, recipient_user_id, unread)
SELECT ?1, n, strftime('%Y-%m-%d %H:%M:%f+00:00', 'now', '-' || (?4 - n) || ' seconds'), 'message ' || n,
       CASE WHEN n % 2 = 0 THEN ?2 ELSE ?3 END, CASE WHEN n % 2 = 0 THEN ?3 ELSE ?2 END, n > ?4 - 10
FROM g`,
}

// seedConversation returns a fresh store holding one conversation of n messages (seq 1..n), written
// straight through a second handle, and a short one beside it so the index holds more than one key.
func seedConversation(tb testing.TB, dialect string, n int) (*store.Store, int64) {
	tb.Helper()
	s := storetest.Open(tb, dialect)
	alice, bob, carol := createUser(tb, s, "alice"), createUser(tb, s, "bob"), createUser(tb, s, "carol")
	send(tb, s, alice, carol, "another conversation")
	send(tb, s, carol, alice, "another reply")
	db := rawDB(tb, s.URL())
	ctx := tb.Context()
	start := time.Now()

	var conv int64
	err := db.QueryRowContext(ctx, rebind(s.Dialect(), `INSERT INTO conversations (user_low_id, user_high_id, last_seq)
		VALUES (?, ?, ?) RETURNING conversation_id`), alice.UserID, bob.UserID, n).Scan(&conv)
	if err != nil {
		tb.Fatalf("seed conversation: %v", err)
	}
	if _, err := db.ExecContext(ctx, seedMessagesSQL[s.Dialect()], conv, alice.UserID, bob.UserID, n); err != nil {
		tb.Fatalf("seed %d messages: %v", n, err)
	}
	exec(tb, s, db, `UPDATE conversations SET
		last_message_id = (SELECT message_id FROM messages WHERE conversation_id = ? AND seq = ?),
		last_message_at = (SELECT message_date FROM messages WHERE conversation_id = ? AND seq = ?),
		low_unread = (SELECT COUNT(*) FROM messages WHERE conversation_id = ? AND recipient_user_id = ? AND unread),
		high_unread = (SELECT COUNT(*) FROM messages WHERE conversation_id = ? AND recipient_user_id = ? AND unread)
		WHERE conversation_id = ?`, conv, n, conv, n, conv, alice.UserID, conv, bob.UserID, conv)
	// Leave the database as it would settle after such a load, so the first reads do not pay for it.
	// PostgreSQL: autovacuum would vacuum and analyze a table this size soon; do it now rather than race
	// it. SQLite: the WAL checkpoints itself every thousand pages; the one big INSERT left it all in
	// the WAL. SQLite gets no ANALYZE: the application never runs one, so its plans must not need it.
	if s.Dialect() == migrations.Postgres {
		exec(tb, s, db, `VACUUM ANALYZE`)
		// Without it the first benchmark measures the checkpointer writing the load back beside it.
		if _, err := db.ExecContext(ctx, `CHECKPOINT`); err != nil {
			tb.Logf("CHECKPOINT refused (%v): the first figures include the load's write-back", err)
		}
	} else {
		exec(tb, s, db, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	tb.Logf("%s: seeded %d messages in %v", dialect, n, time.Since(start).Round(time.Millisecond))
	return s, conv
}

func benchmarkPage(b *testing.B, before func(n int) int64) {
	for _, n := range benchSizes(b) {
		for _, dialect := range storetest.Dialects {
			b.Run(fmt.Sprintf("%s/messages=%d", dialect, n), func(b *testing.B) {
				s, conv := seedConversation(b, dialect, n)
				beforeSeq := before(n)
				wantNewest := int64(n)
				if beforeSeq > 0 {
					wantNewest = beforeSeq - 1
				}
				ctx := b.Context()
				load := func() {
					page, err := s.MessagesBefore(ctx, conv, beforeSeq, pageSize)
					if err != nil {
						b.Fatal(err)
					}
					if len(page.Messages) != pageSize || !page.HasOlder || page.Messages[pageSize-1].Seq != wantNewest {
						b.Fatalf("page of %d messages, HasOlder=%v, want %d ending at seq %d", len(page.Messages), page.HasOlder, pageSize, wantNewest)
					}
				}
				load() // warm up: GORM's schema cache and the database's page cache, as in a running server
				b.ReportAllocs()
				for b.Loop() {
					load()
				}
			})
		}
	}
}

// BenchmarkOpenConversation loads the newest page, as opening a chat does.
func BenchmarkOpenConversation(b *testing.B) {
	benchmarkPage(b, func(int) int64 { return 0 })
}

// BenchmarkPageBack loads a page from the middle of the history, as scrolling far back does.
func BenchmarkPageBack(b *testing.B) {
	benchmarkPage(b, func(n int) int64 { return int64(n / 2) })
}

// BenchmarkSend stores messages from 1, 16 and 128 senders at once, each writing to its own partner;
// ns/op is wall time per stored message, so concurrent senders that share a commit show up as a
// smaller figure.
func BenchmarkSend(b *testing.B) {
	for _, dialect := range storetest.Dialects {
		for _, senders := range []int{1, 16, 128} {
			b.Run(fmt.Sprintf("%s/senders=%d", dialect, senders), func(b *testing.B) {
				s := storetest.Open(b, dialect)
				from, to := make([]models.User, senders), make([]models.User, senders)
				for i := range senders {
					from[i] = createUser(b, s, fmt.Sprintf("sender%d", i))
					to[i] = createUser(b, s, fmt.Sprintf("recipient%d", i))
				}
				ctx := b.Context()
				var next atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				var wg sync.WaitGroup
				for i := range senders {
					wg.Go(func() {
						for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
							_, created, err := s.SendMessage(ctx, store.SendInput{SenderID: from[i].UserID, RecipientID: to[i].UserID,
								Body: "hello", ClientID: strconv.FormatInt(n, 10)})
							if err != nil || !created {
								b.Errorf("send %d: created=%v err=%v", n, created, err)
								return
							}
						}
					})
				}
				wg.Wait()
			})
		}
	}
}

// BenchmarkOlderPage is the store's whole part of GET /chat/{username}/messages?before=ID (a page from
// the middle of the history): partner, conversation, cursor and page, in History's one query.
func BenchmarkOlderPage(b *testing.B) {
	for _, n := range benchSizes(b) {
		for _, dialect := range storetest.Dialects {
			b.Run(fmt.Sprintf("%s/messages=%d", dialect, n), func(b *testing.B) {
				s, conv := seedConversation(b, dialect, n)
				ctx := b.Context()
				alice, err := s.UserByUsername(ctx, "alice")
				if err != nil {
					b.Fatal(err)
				}
				cursor := cursorAt(b, s, conv, int64(n/2))
				load := func() {
					h, err := s.History(ctx, alice.UserID, "bob", cursor, pageSize)
					if err != nil || len(h.Messages) != pageSize || h.Messages[pageSize-1].Seq != int64(n/2-1) {
						b.Fatalf("page of %d messages: %v", len(h.Messages), err)
					}
				}
				load()
				b.ReportAllocs()
				for b.Loop() {
					load()
				}
			})
		}
	}
}

// cursorAt is the id of the message at seq of the conversation.
func cursorAt(b *testing.B, s *store.Store, conv, seq int64) int64 {
	b.Helper()
	msgs, err := s.MessagesAfter(b.Context(), conv, seq-1, 1)
	if err != nil || len(msgs) != 1 {
		b.Fatalf("message at seq %d: %v", seq, err)
	}
	return msgs[0].MessageID
}
