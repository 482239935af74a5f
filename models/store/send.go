package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"messenger/migrations"
	"messenger/models"
)

// Group commit: every SendMessage hands its message to one committer goroutine, which writes whatever
// has queued up meanwhile (at most maxBatch messages) in one transaction and answers each caller once
// that transaction is durable. A lone sender waits for nothing but its own commit; under load a batch
// grows to what arrived during the previous commit and what the senders ready to run queue just
// before it (gather), and while sends arrive fast it stays open a little longer (linger), so the cost
// of a commit (the WAL's pages, the fsync) is shared.

const (
	// maxBatch bounds the messages of one transaction (and so the statements' parameter counts).
	maxBatch = 128
	// lingerTime is how long a batch stays open for more sends while they arrive at lingerRate a second
	// or faster. A transaction costs some 300 µs of CPU on SQLite whatever it holds, and at 2,000
	// sends a second batches that did not wait held 1.9 messages: the commits took a third of the
	// core. Waiting 2 ms cut the CPU per message from 337 to 216 µs, for a median latency of 3.8 ms
	// instead of 1.3 (1 ms: 257 µs; 4 ms: 202 µs and 5.7 ms; docs/PERFORMANCE.md). Below lingerRate a
	// wait would gather one more send at most, and a lone sender never waits.
	lingerTime = 2 * time.Millisecond
	lingerRate = 500
	// rateWindow is the time over which the committer counts the sends it takes (sendRate).
	rateWindow = 100 * time.Millisecond
	// batchTimeout bounds one batch's transaction: the callers' contexts are not used, since a batch
	// serves many of them.
	batchTimeout = 30 * time.Second
)

var errStoreClosed = errors.New("store closed")

// SendInput is one message to store.
type SendInput struct {
	SenderID    int64
	RecipientID int64
	Body        string
	ClientID    string // optional idempotency key, unique per sender
	// Attachment, when set, is stored with the message (its file already on disk); the store fills in
	// its ids and date.
	Attachment *models.Attachment
	ReplyToID  int64 // the message of the same conversation this one answers (checked by the caller); 0: none
	// Quote is ReplyToID's quote as the caller read it: the stored message carries it, to its own
	// sockets and, inside its notification, to the other instances.
	Quote *models.Quote
}

type sendRequest struct {
	in     SendInput
	result chan sendResult // buffered: the committer never waits for a caller that gave up
}

type sendResult struct {
	msg     models.ExtendedMessage
	created bool
	err     error
	// stored is the message the request's client id names, once known (written now or before), even
	// when this request was refused: a repeat of the request in the same batch is answered from it.
	stored models.ExtendedMessage
}

// sender is the committer's side of SendMessage.
type sender struct {
	mu     sync.RWMutex // held for reading while a request is queued; Close takes it to stop the queue
	closed bool
	queue  chan *sendRequest
	done   chan struct{}
	texts  sync.Map // stmtKey -> statement text
	// batches counts committed transactions; inTx, when set (tests), runs inside each batch's
	// transaction once the writer holds its lock.
	batches atomic.Int64
	inTx    func()
	// announce, when set (PostgreSQL), turns a batch's messages into notifications sent inside its
	// transaction.
	announce func(msgs []models.ExtendedMessage) (channel string, payloads []string)
	// observeBatch, when set, is told of each batch (ObserveBatches).
	observeBatch func(batch, stored int)
}

// AnnounceSends makes every send transaction on PostgreSQL pass the messages it writes to announce
// and send the payloads it returns with pg_notify on channel before it commits: the commit and the
// announcement are one, so no crash between them can leave a stored message unannounced to the other
// instances (and a rolled-back message is never announced). announce runs on the committer, inside
// the transaction: it must be quick and must not call the store. Call AnnounceSends before the first
// send. It reports whether sends will be announced: false on SQLite, which has no other instances to
// tell.
func (s *Store) AnnounceSends(announce func(msgs []models.ExtendedMessage) (channel string, payloads []string)) bool {
	if s.dialect != migrations.Postgres {
		return false
	}
	s.send.announce = announce
	return true
}

// SendMessage stores a message and returns it joined with both usernames. created is false when the
// sender's client id was already used for this same message (a retry): the earlier message is returned
// and nothing new is written. A client id reused for another recipient or another body is ErrConflict:
// answering with the earlier message would hand one conversation's message to another.
//
// The message is written together with those of concurrent callers, in one transaction that is
// committed durably before any of them returns; each caller gets its own result or error. The
// conversation rows are locked by the upsert that takes the next sequence numbers and stay locked
// until commit, so sequence numbers of one conversation commit in order: a reader that has seen seq N
// can ask for "seq > N" and never skip a row that committed late.
func (s *Store) SendMessage(ctx context.Context, in SendInput) (models.ExtendedMessage, bool, error) {
	if in.SenderID <= 0 || in.RecipientID <= 0 || in.SenderID == in.RecipientID {
		return models.ExtendedMessage{}, false, wrap("send message", fmt.Errorf("sender %d and recipient %d are not two users", in.SenderID, in.RecipientID))
	}
	req := &sendRequest{in: in, result: make(chan sendResult, 1)}
	s.send.mu.RLock()
	if s.send.closed {
		s.send.mu.RUnlock()
		return models.ExtendedMessage{}, false, wrap("send message", errStoreClosed)
	}
	select {
	case s.send.queue <- req:
	case <-ctx.Done():
		s.send.mu.RUnlock()
		return models.ExtendedMessage{}, false, wrap("send message", ctx.Err())
	}
	s.send.mu.RUnlock()
	select {
	case r := <-req.result:
		return r.msg, r.created, r.err
	case <-ctx.Done():
		// The message may still be stored; a retry with the same client id finds it.
		return models.ExtendedMessage{}, false, wrap("send message", ctx.Err())
	}
}

// commitLoop is the committer: it takes what is queued, up to maxBatch, and commits it, until the
// queue is closed and empty.
func (s *Store) commitLoop() {
	defer close(s.send.done)
	batch := make([]*sendRequest, 0, maxBatch)
	var rate sendRate
	for first := range s.send.queue {
		batch = append(batch[:0], first)
		opened := time.Now()
		s.send.gather()
		if rate.perSecond(opened) >= lingerRate {
			linger := time.NewTimer(lingerTime - time.Since(opened))
			batch = s.send.fill(batch, linger.C)
			linger.Stop()
		} else {
			batch = s.send.fill(batch, nil)
		}
		rate.add(time.Now(), len(batch))
		s.commitBatch(batch)
	}
}

// fill adds queued sends to batch, up to maxBatch: those that come until linger fires (nil: none), then
// those waiting. It stops early when the queue is closed.
func (snd *sender) fill(batch []*sendRequest, linger <-chan time.Time) []*sendRequest {
	for len(batch) < maxBatch {
		select {
		case r, ok := <-snd.queue:
			if !ok {
				return batch
			}
			batch = append(batch, r)
			continue
		default:
		}
		if linger == nil {
			return batch
		}
		select {
		case r, ok := <-snd.queue:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		case <-linger:
			linger = nil
		}
	}
	return batch
}

// sendRate estimates how many sends a second the committer takes: a count that decays exponentially
// with rateWindow as its time constant, so that a steady rate r holds it at r × rateWindow.
type sendRate struct {
	count float64
	at    time.Time
}

func (r *sendRate) decay(now time.Time) {
	if !r.at.IsZero() && now.After(r.at) {
		r.count *= math.Exp(-float64(now.Sub(r.at)) / float64(rateWindow))
	}
	r.at = now
}

func (r *sendRate) add(now time.Time, n int) {
	r.decay(now)
	r.count += float64(n)
}

func (r *sendRate) perSecond(now time.Time) float64 {
	r.decay(now)
	return r.count / rateWindow.Seconds()
}

// gather lets the goroutines that are ready to run go first, again while they keep queueing sends,
// until a batch's worth waits. The first send wakes the committer at once (a woken goroutine runs
// next), before the senders behind it have read their frames: on a server with one core each commit
// then carried a few messages, and the core sat idle through every fsync while senders waited.
// When nothing else is ready to run, it returns at once; it gathers for a millisecond at most, since
// what runs first need not be senders (a password hash holds the CPU for a whole time slice).
func (snd *sender) gather() {
	start := time.Now()
	for n := len(snd.queue); n < maxBatch; {
		runtime.Gosched()
		m := len(snd.queue)
		if m == n || time.Since(start) > time.Millisecond {
			return
		}
		n = m
	}
}

// stopCommitter lets queued sends finish and stops the committer.
func (s *Store) stopCommitter() {
	s.send.mu.Lock()
	if !s.send.closed {
		s.send.closed = true
		close(s.send.queue)
	}
	s.send.mu.Unlock()
	<-s.send.done
}

type clientKey struct {
	sender   int64
	clientID string
}

// commitBatch writes reqs and answers every one of them.
func (s *Store) commitBatch(reqs []*sendRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	// A client id twice in one batch (a retry racing its original): the first is written, the others
	// are answered from it.
	var repeats map[*sendRequest]*sendRequest
	firstOf := make(map[clientKey]*sendRequest)
	rows := make([]*sendRequest, 0, len(reqs))
	for _, r := range reqs {
		if r.in.ClientID != "" {
			k := clientKey{r.in.SenderID, r.in.ClientID}
			if f, ok := firstOf[k]; ok {
				if repeats == nil {
					repeats = make(map[*sendRequest]*sendRequest)
				}
				repeats[r] = f
				continue
			}
			firstOf[k] = r
		}
		rows = append(rows, r)
	}
	results := make(map[*sendRequest]sendResult, len(reqs))
	s.commitRows(ctx, rows, results)
	s.send.observe(len(reqs), results)
	for _, r := range rows {
		r.result <- results[r]
	}
	for r, f := range repeats {
		res := results[f]
		if res.stored.MessageID != 0 {
			res.msg, res.created, res.err = retried(res.stored, r.in)
		}
		r.result <- res
	}
}

// commitRows writes rows in one transaction and records each row's result. Rows whose client id is
// already stored are answered from the stored message and the rest written again; when the
// transaction fails otherwise, each row is tried alone so that one bad row fails only itself.
func (s *Store) commitRows(ctx context.Context, rows []*sendRequest, results map[*sendRequest]sendResult) {
	for attempt := 0; len(rows) > 0; attempt++ {
		written, duplicates, err := s.writeBatch(ctx, rows)
		if err == nil && len(duplicates) == 0 {
			for i, r := range rows {
				results[r] = sendResult{msg: written[i], created: true, stored: written[i]}
			}
			return
		}
		if err == nil && attempt < 3 {
			// Nothing was committed: answer the duplicates and write the others again.
			stored, err := s.messagesByClientID(ctx, duplicates)
			if err == nil {
				rest := rows[:0:0]
				for _, r := range rows {
					if m, ok := stored[clientKey{r.in.SenderID, r.in.ClientID}]; ok && r.in.ClientID != "" {
						msg, created, err := retried(m, r.in)
						results[r] = sendResult{msg: msg, created: created, err: err, stored: m}
						continue
					}
					rest = append(rest, r)
				}
				if len(rest) < len(rows) {
					rows = rest
					continue
				}
			}
		}
		if len(rows) == 1 {
			if err == nil {
				err = errors.New("client id taken but not found")
			}
			results[rows[0]] = sendResult{err: wrap("send message", err)}
			return
		}
		for _, r := range rows {
			s.commitRows(ctx, []*sendRequest{r}, results)
		}
		return
	}
}

// retried answers a send whose client id is already stored: the stored message when the send is a
// retry of it, ErrConflict when the id was used for another recipient or another text.
func retried(stored models.ExtendedMessage, in SendInput) (models.ExtendedMessage, bool, error) {
	if stored.RecipientUserID != in.RecipientID || stored.MessageBody != in.Body || !sameAttachment(stored.Attachment, in.Attachment) {
		return models.ExtendedMessage{}, false, wrap("send message: client id reused", ErrConflict)
	}
	return stored, false, nil
}

// messagesByClientID reads the stored messages of the given (sender, client id) keys.
func (s *Store) messagesByClientID(ctx context.Context, keys []clientKey) (map[clientKey]models.ExtendedMessage, error) {
	out := make(map[clientKey]models.ExtendedMessage, len(keys))
	for _, k := range keys {
		m, err := s.messageByClientID(ctx, k.sender, k.clientID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = m
	}
	return out, nil
}

type pair struct{ low, high int64 }

func pairOf(in SendInput) pair {
	if in.SenderID < in.RecipientID {
		return pair{in.SenderID, in.RecipientID}
	}
	return pair{in.RecipientID, in.SenderID}
}

// writeBatch writes rows in one transaction and returns the stored messages in the order of rows.
// When some rows' client ids are already stored, it rolls back and returns their keys instead.
func (s *Store) writeBatch(ctx context.Context, rows []*sendRequest) (_ []models.ExtendedMessage, duplicates []clientKey, err error) {
	// Conversations in one order, so that two batches (two instances) lock them without deadlock.
	counts := make(map[pair]int64)
	users := make(map[int64]string, 2*len(rows)) // usernames
	for _, r := range rows {
		counts[pairOf(r.in)]++
	}
	pairs := make([]pair, 0, len(counts))
	for p := range counts {
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(a, b pair) int { return cmp.Or(cmp.Compare(a.low, b.low), cmp.Compare(a.high, b.high)) })

	sizes := map[string]int{"conversations": len(pairs), "messages": len(rows), "conv-last": len(pairs), "notify": 1}

	// SQLite's statements are prepared before the transaction takes the writer's only connection.
	prepared := make(map[string]*sql.Stmt, len(sizes))
	if s.dialect == migrations.SQLite {
		for kind, n := range sizes {
			if kind != "notify" {
				if prepared[kind], err = s.stmts.get(ctx, s.sqlDB, s.batchText(kind, n)); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	tx, err := s.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil || duplicates != nil {
			_ = tx.Rollback()
		}
	}()
	exec := func(kind string, args ...any) (err error) {
		if stmt := prepared[kind]; stmt != nil {
			_, err = tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, s.batchText(kind, sizes[kind]), args...)
		}
		return err
	}
	query := func(kind string, scan func(*sql.Rows) error, args ...any) (err error) {
		var q *sql.Rows
		if stmt := prepared[kind]; stmt != nil {
			q, err = tx.StmtContext(ctx, stmt).QueryContext(ctx, args...)
		} else {
			q, err = tx.QueryContext(ctx, s.batchText(kind, sizes[kind]), args...)
		}
		if err != nil {
			return err
		}
		defer q.Close()
		for q.Next() {
			if err := scan(q); err != nil {
				return err
			}
		}
		return q.Err()
	}

	// 1. In one upsert, in the pairs' order (so that two batches, two instances, lock them without
	// deadlock): the conversations exist and are locked; each takes its next sequence numbers and its
	// two unread counters are raised by the batch's messages to each user; both usernames come back.
	// It is a write first, so SQLite takes the write lock now, not on upgrade.
	toLow := make(map[pair]int64, len(pairs))
	for _, r := range rows {
		if p := pairOf(r.in); r.in.RecipientID == p.low {
			toLow[p]++
		}
	}
	args := make([]any, 0, 8*len(rows))
	for _, p := range pairs {
		args = append(args, p.low, p.high, counts[p], toLow[p], counts[p]-toLow[p])
	}
	// next: the seq the next row of this batch takes; lowUnread, highUnread: the counters before it.
	type convSeq struct{ id, next, last, lowUnread, highUnread int64 }
	convs := make(map[pair]*convSeq, len(pairs))
	err = query("conversations", func(q *sql.Rows) error {
		var c convSeq
		var p pair
		var lowName, highName string
		if err := q.Scan(&c.id, &p.low, &p.high, &c.last, &c.lowUnread, &c.highUnread, &lowName, &highName); err != nil {
			return err
		}
		c.next = c.last - counts[p] + 1
		c.lowUnread -= toLow[p]
		c.highUnread -= counts[p] - toLow[p]
		convs[p] = &c
		users[p.low], users[p.high] = lowName, highName
		return nil
	}, args...)
	if err == nil && len(convs) != len(pairs) {
		err = fmt.Errorf("%d of %d conversations found", len(convs), len(pairs))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("conversations: %w", err)
	}
	if s.send.inTx != nil {
		s.send.inTx()
	}

	// 2. The messages; a client id already stored inserts nothing.
	date := now().Truncate(time.Microsecond) // what both databases keep
	msgs := make([]models.ExtendedMessage, len(rows))
	type place struct{ conv, seq int64 }
	at := make(map[place]int, len(rows))
	args = args[:0]
	for i, r := range rows {
		c := convs[pairOf(r.in)]
		m := models.Message{ConversationID: c.id, Seq: c.next, MessageDate: date, MessageBody: r.in.Body,
			SenderUserID: r.in.SenderID, RecipientUserID: r.in.RecipientID, Unread: true}
		c.next++
		if r.in.RecipientID < r.in.SenderID {
			c.lowUnread++
			msgs[i].RecipientUnread, msgs[i].SenderUnread = c.lowUnread, c.highUnread
		} else {
			c.highUnread++
			msgs[i].RecipientUnread, msgs[i].SenderUnread = c.highUnread, c.lowUnread
		}
		var clientID, replyTo any
		if r.in.ClientID != "" {
			m.ClientID = &r.in.ClientID
			clientID = r.in.ClientID
		}
		if r.in.ReplyToID != 0 {
			m.ReplyToID = &r.in.ReplyToID
			replyTo = r.in.ReplyToID
			msgs[i].ReplyTo = r.in.Quote
		}
		msgs[i].Message = m
		at[place{m.ConversationID, m.Seq}] = i
		args = append(args, m.ConversationID, m.Seq, date, m.MessageBody, m.SenderUserID, m.RecipientUserID, true, clientID, replyTo)
	}
	inserted := 0
	err = query("messages", func(q *sql.Rows) error {
		var id int64
		var p place
		if err := q.Scan(&id, &p.conv, &p.seq); err != nil {
			return err
		}
		i, ok := at[p]
		if !ok {
			return fmt.Errorf("unexpected message at seq %d of conversation %d", p.seq, p.conv)
		}
		msgs[i].MessageID = id
		inserted++
		return nil
	}, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("messages: %w", err)
	}
	if inserted < len(rows) {
		for i, r := range rows {
			if msgs[i].MessageID == 0 {
				duplicates = append(duplicates, clientKey{r.in.SenderID, r.in.ClientID})
			}
		}
		return nil, duplicates, nil
	}
	if err := s.insertAttachments(ctx, tx, rows, msgs); err != nil {
		return nil, nil, err
	}

	// 3. Each conversation's newest message.
	args = args[:0]
	for _, c := range convs {
		args = append(args, c.id, msgs[at[place{c.id, c.last}]].MessageID)
	}
	args = append(args, date)
	if err := exec("conv-last", args...); err != nil {
		return nil, nil, fmt.Errorf("newest messages: %w", err)
	}

	for i := range msgs {
		msgs[i].SenderUsername, msgs[i].RecipientUsername = users[msgs[i].SenderUserID], users[msgs[i].RecipientUserID]
	}

	// 4. The announcement, committed with the messages (PostgreSQL queues it until the commit).
	if s.send.announce != nil {
		// Every payload in one statement (a batch's messages may need several): one round trip.
		if channel, payloads := s.send.announce(msgs); len(payloads) > 0 {
			if err := exec("notify", channel, payloads); err != nil {
				return nil, nil, fmt.Errorf("notify: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("commit: %w", err)
	}
	s.send.batches.Add(1)
	return msgs, nil, nil
}

// values returns n comma-separated copies of "(row)".
func values(n int, row string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + row + ")")
	}
	return b.String()
}

// batchSQL builds the statements of a batch, by kind, for n rows.
var batchSQL = map[string]func(n int) string{
	// A new conversation starts at the batch's values; an existing one adds them.
	"conversations": func(n int) string {
		return `INSERT INTO conversations (user_low_id, user_high_id, last_seq, low_unread, high_unread)
VALUES ` + values(n, "CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT)") + `
ON CONFLICT (user_low_id, user_high_id) DO UPDATE SET last_seq = conversations.last_seq + excluded.last_seq,
	low_unread = conversations.low_unread + excluded.low_unread, high_unread = conversations.high_unread + excluded.high_unread
RETURNING conversation_id, user_low_id, user_high_id, last_seq, low_unread, high_unread,
	(SELECT username FROM users WHERE user_id = user_low_id), (SELECT username FROM users WHERE user_id = user_high_id)`
	},
	"messages": func(n int) string {
		return `INSERT INTO messages (conversation_id, seq, message_date, message_body, sender_user_id, recipient_user_id, unread, client_id, reply_to_id)
VALUES ` + values(n, "?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS BIGINT)") + `
ON CONFLICT (sender_user_id, client_id) DO NOTHING RETURNING message_id, conversation_id, seq`
	},
	"conv-last": func(n int) string {
		return `WITH v (id, last) AS (VALUES ` + values(n, "CAST(? AS BIGINT), CAST(? AS BIGINT)") + `)
UPDATE conversations SET last_message_id = v.last, last_message_at = ? FROM v WHERE conversations.conversation_id = v.id`
	},
	// ORDER BY: PostgreSQL calls a volatile function of the select list after sorting, so the
	// notifications go in the payloads' order.
	"notify": func(int) string {
		return `SELECT pg_notify(?, p) FROM unnest(CAST(? AS text[])) WITH ORDINALITY AS n (p, i) ORDER BY i`
	},
}

type stmtKey struct {
	kind string
	n    int
}

// batchText returns the statement of kind for n rows, built once. On PostgreSQL the text is run as it
// is: pgx keeps its own bounded cache of prepared statements per connection (a batch may take any of the
// pool's connections). SQLite's are prepared on its one writer connection (writeBatch): up to maxBatch
// sizes of three kinds.
func (s *Store) batchText(kind string, n int) string {
	key := stmtKey{kind, n}
	if q, ok := s.send.texts.Load(key); ok {
		return q.(string)
	}
	q := rebind(s.dialect, batchSQL[kind](n))
	s.send.texts.Store(key, q)
	return q
}

// rebind turns ? placeholders into PostgreSQL's $1, $2… when needed.
func rebind(dialect migrations.Dialect, query string) string {
	if dialect != migrations.Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
