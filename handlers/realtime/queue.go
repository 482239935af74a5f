package realtime

import "sync"

// queue is an ordered FIFO whose producers never block, for hand-offs where
// a blocked producer could deadlock (a deliver func that publishes) or stall
// a request. limit 0 means unbounded.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	limit  int
	signal chan struct{} // nil when the consumer runs on demand
	// running: the on-demand consumer runs (or has ended for good, and none may start again).
	running bool
}

// newQueue makes a queue for a consumer that lives as long as the queue: it waits on ready, then
// takes everything.
func newQueue[T any](limit int) *queue[T] {
	return &queue[T]{limit: limit, signal: make(chan struct{}, 1)}
}

// newDemandQueue makes a queue whose consumer is a goroutine started when something arrives (offer
// says when) and ended when nothing is left (next says when), so an idle queue costs no goroutine.
func newDemandQueue[T any](limit int) *queue[T] {
	return &queue[T]{limit: limit}
}

// offer appends all items or none, like push; force ignores the limit. start means that no
// consumer runs: the caller must start one. Only one runs at a time.
func (q *queue[T]) offer(force bool, items ...T) (ok, start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.appendLocked(force, items) {
		return false, false
	}
	start = !q.running
	q.running = true
	return true, start
}

// appendLocked appends all items or none (force ignores the limit); q.mu is held.
func (q *queue[T]) appendLocked(force bool, items []T) bool {
	if !force && q.limit > 0 && len(q.items)+len(items) > q.limit {
		return false
	}
	q.items = append(q.items, items...)
	return true
}

// takeLocked removes and returns everything queued, oldest first; q.mu is held.
func (q *queue[T]) takeLocked() []T {
	items := q.items
	q.items = nil
	return items
}

// next removes and returns everything queued, for the on-demand consumer. Nothing means the
// consumer must end now: it is marked ended under the same lock as offer, so the next offer starts
// another and no item is left without one. A consumer that ends for good stops calling next.
func (q *queue[T]) next() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.takeLocked()
	if len(items) == 0 {
		q.running = false
	}
	return items
}

// push appends all items or none; false means the queue would exceed its limit.
func (q *queue[T]) push(items ...T) bool {
	q.mu.Lock()
	ok := q.appendLocked(false, items)
	q.mu.Unlock()
	if !ok {
		return false
	}
	select {
	case q.signal <- struct{}{}:
	default:
	}
	return true
}

// take removes and returns everything queued, oldest first.
func (q *queue[T]) take() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.takeLocked()
}

// ready receives after a push; the consumer must take everything each time,
// since several pushes may share one signal.
func (q *queue[T]) ready() <-chan struct{} { return q.signal }
