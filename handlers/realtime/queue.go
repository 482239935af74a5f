package realtime

import "sync"

// queue is an ordered FIFO whose producers never block, for hand-offs where
// a blocked producer could deadlock (a deliver func that publishes) or stall
// a request. limit 0 means unbounded.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	limit  int
	signal chan struct{}
}

func newQueue[T any](limit int) *queue[T] {
	return &queue[T]{limit: limit, signal: make(chan struct{}, 1)}
}

// push appends all items or none; false means the queue would exceed its limit.
func (q *queue[T]) push(items ...T) bool {
	q.mu.Lock()
	if q.limit > 0 && len(q.items)+len(items) > q.limit {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, items...)
	q.mu.Unlock()
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
	items := q.items
	q.items = nil
	return items
}

// ready receives after a push; the consumer must take everything each time,
// since several pushes may share one signal.
func (q *queue[T]) ready() <-chan struct{} { return q.signal }
