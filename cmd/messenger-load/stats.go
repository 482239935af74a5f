package main

import (
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// latencySummary describes a set of delivery latencies. Percentiles use the nearest-rank method: the
// p-th percentile is the smallest value that at least p% of the samples do not exceed.
type latencySummary struct {
	Count int
	Mean  time.Duration
	P50   time.Duration
	P90   time.Duration
	P95   time.Duration
	P99   time.Duration
	Max   time.Duration
}

func summarize(samples []time.Duration) latencySummary {
	if len(samples) == 0 {
		return latencySummary{}
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	return latencySummary{
		Count: len(sorted),
		Mean:  sum / time.Duration(len(sorted)),
		P50:   percentile(sorted, 50),
		P90:   percentile(sorted, 90),
		P95:   percentile(sorted, 95),
		P99:   percentile(sorted, 99),
		Max:   sorted[len(sorted)-1],
	}
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of sorted, which must be sorted
// in increasing order; zero for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = max(1, min(n, rank))
	return sorted[rank-1]
}

// message is one sent message as the tracker knows it.
type message struct {
	sentAt    time.Time
	sender    int // user index
	recipient int // user index
	expected  int // sockets (of sender and recipient) that should receive it
	arrivedAt time.Time
	reached   int // distinct sockets that received it
}

// tracker matches sends with arrivals. It is shared by every sender and every socket reader.
type tracker struct {
	mu         sync.Mutex
	msgs       map[string]*message
	seen       map[arrivalKey]struct{}
	latencies  []time.Duration
	sent       int
	delivered  int
	duplicates int
	unknown    int // fragments carrying a client id this run never sent
	fanoutWant int
	fanoutGot  int
	firstSend  time.Time
	lastArrive time.Time
	involving  map[int]int   // user index → messages sent by or to that user
	perSocket  map[int]int   // socket id → messages of this run it received (first copies)
	allDone    chan struct{} // closed once every sent message has arrived and sending is over
	closed     bool
	sending    bool
}

type arrivalKey struct {
	socket   int
	clientID string
}

func newTracker() *tracker {
	return &tracker{
		msgs:      map[string]*message{},
		seen:      map[arrivalKey]struct{}{},
		involving: map[int]int{},
		perSocket: map[int]int{},
		allDone:   make(chan struct{}),
		sending:   true,
	}
}

// send records a message about to be written; call it before the write so the arrival cannot come
// first.
func (t *tracker) send(clientID string, sender, recipient, expected int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.msgs[clientID] = &message{sentAt: at, sender: sender, recipient: recipient, expected: expected}
	t.involving[sender]++
	t.involving[recipient]++
	t.sent++
	t.fanoutWant += expected
	if t.firstSend.IsZero() || at.Before(t.firstSend) {
		t.firstSend = at
	}
}

// unsend forgets a message whose write failed: it never left this process.
func (t *tracker) unsend(clientID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.msgs[clientID]
	if !ok {
		return
	}
	delete(t.msgs, clientID)
	t.sent--
	t.fanoutWant -= m.expected
	t.fanoutGot -= m.reached
	if !m.arrivedAt.IsZero() {
		t.delivered--
	}
	t.involving[m.sender]--
	t.involving[m.recipient]--
	for k := range t.seen {
		if k.clientID == clientID {
			t.perSocket[k.socket]--
		}
	}
}

// arrive records that socket (owned by user index owner) received a fragment carrying clientID.
func (t *tracker) arrive(socket, owner int, clientID string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := arrivalKey{socket, clientID}
	if _, dup := t.seen[key]; dup {
		t.duplicates++
		return
	}
	t.seen[key] = struct{}{}
	m, ok := t.msgs[clientID]
	if !ok {
		t.unknown++
		return
	}
	m.reached++
	t.fanoutGot++
	t.perSocket[socket]++
	if owner == m.recipient && m.arrivedAt.IsZero() {
		m.arrivedAt = at
		t.delivered++
		t.latencies = append(t.latencies, at.Sub(m.sentAt))
		if at.After(t.lastArrive) {
			t.lastArrive = at
		}
	}
	t.checkDone()
}

// stopSending says no more sends will come; allDone closes once everything sent has arrived.
func (t *tracker) stopSending() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sending = false
	t.checkDone()
}

func (t *tracker) checkDone() {
	if !t.sending && !t.closed && t.delivered == t.sent && t.fanoutGot >= t.fanoutWant {
		t.closed = true
		close(t.allDone)
	}
}

// deliveryStats is the tracker's state as a report wants it.
type deliveryStats struct {
	Sent        int
	Delivered   int
	Lost        int
	Duplicates  int
	Unknown     int
	FanoutWant  int
	FanoutGot   int
	Latency     latencySummary
	FirstSend   time.Time
	LastArrival time.Time
	Histogram   []bucket
}

func (t *tracker) stats() deliveryStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return deliveryStats{
		Sent:        t.sent,
		Delivered:   t.delivered,
		Lost:        t.sent - t.delivered,
		Duplicates:  t.duplicates,
		Unknown:     t.unknown,
		FanoutWant:  t.fanoutWant,
		FanoutGot:   t.fanoutGot,
		Latency:     summarize(t.latencies),
		FirstSend:   t.firstSend,
		LastArrival: t.lastArrive,
		Histogram:   histogram(t.latencies, histogramBounds),
	}
}

// bucket counts latencies up to (and including) Le; the last bucket has Le = 0 and counts the rest.
type bucket struct {
	Le    time.Duration
	Count int
}

var histogramBounds = []time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second,
}

func histogram(samples []time.Duration, bounds []time.Duration) []bucket {
	out := make([]bucket, len(bounds)+1)
	for i, b := range bounds {
		out[i].Le = b
	}
	for _, d := range samples {
		i := sort.Search(len(bounds), func(i int) bool { return d <= bounds[i] })
		out[i].Count++
	}
	return out
}

// rate is n events per second over d; zero when d is not positive.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// shortSockets counts the sockets that received fewer of this run's messages than their owner sent
// or was sent, and how many fragments they missed in all: a socket the server dropped from its hub
// without closing it shows up here and nowhere else. owners maps socket id to user index.
func (t *tracker) shortSockets(owners map[int]int) (sockets, missing int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for sock, owner := range owners {
		if want := t.involving[owner]; want > t.perSocket[sock] {
			sockets++
			missing += want - t.perSocket[sock]
		}
	}
	return sockets, missing
}
