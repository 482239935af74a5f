package handlers

import (
	"context"
	"sync"

	"messenger/models"
	"messenger/models/store"
)

// recentMessages keeps the last messages sent through this instance, so the sockets of both users
// render a new message without each asking the database for it.
type recentMessages struct {
	mu    sync.Mutex
	byID  map[int64]models.ExtendedMessage
	order []int64 // ring of the ids held, oldest replaced first
	next  int
}

func newRecentMessages(size int) *recentMessages {
	return &recentMessages{byID: make(map[int64]models.ExtendedMessage, size), order: make([]int64, size)}
}

func (r *recentMessages) put(m models.ExtendedMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[m.MessageID]; ok {
		return
	}
	delete(r.byID, r.order[r.next])
	r.order[r.next] = m.MessageID
	r.next = (r.next + 1) % len(r.order)
	r.byID[m.MessageID] = m
}

// get returns the message from memory or, sent through another instance, from the store. Messages
// never change once stored except for their unread flag, which the fragments read elsewhere.
func (r *recentMessages) get(ctx context.Context, db *store.Store, id int64) (models.ExtendedMessage, error) {
	r.mu.Lock()
	m, ok := r.byID[id]
	r.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := db.MessageByID(ctx, id)
	if err == nil {
		r.put(m)
	}
	return m, err
}
