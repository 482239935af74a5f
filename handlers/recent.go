package handlers

import (
	"context"
	"math"
	"sync"
	"time"

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

// replace puts a message that was edited or deleted in place of the copy held, if any.
func (r *recentMessages) replace(m models.ExtendedMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[m.MessageID]; ok {
		r.byID[m.MessageID] = m
	}
}

// get returns the message from memory or, sent through another instance, from the store. A held
// message changes only by an edit or a deletion, which replaces it; its unread flag the fragments
// read elsewhere.
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

// userCache holds the users that live fragments show (names for rows, usernames for typing), loaded
// once per instance; registration and profile changes announce a user, which drops the copy. It also
// resolves the usernames that sends, typing and "open" frames name, without a query each time.
type userCache struct {
	mu   sync.Mutex
	byID map[int64]models.User
	// ids maps a username, exactly as stored, to its user: usernames never change, and a name
	// spelled another way (case, width) is looked up in the store and not kept, so the map holds at
	// most one entry per user whatever clients send.
	ids map[string]int64
	// loaded is when each row of byID was read: a signed-in request takes its own row from here only
	// while it is fresh (signedIn).
	loaded map[int64]time.Time
}

func newUserCache() *userCache {
	return &userCache{byID: make(map[int64]models.User), ids: make(map[string]int64), loaded: make(map[int64]time.Time)}
}

// byUsername is the store's UserByUsername (without the password hash), from memory when it can.
func (c *userCache) byUsername(ctx context.Context, db *store.Store, username string) (models.User, error) {
	c.mu.Lock()
	id, known := c.ids[username]
	u, held := c.byID[id]
	c.mu.Unlock()
	if known && held {
		return u, nil
	}
	if known {
		return c.get(ctx, db, id)
	}
	u, err := db.UserByUsername(ctx, username)
	if err != nil {
		return u, err
	}
	c.put(u)
	if u.Username == username {
		c.mu.Lock()
		c.ids[username] = u.UserID
		c.mu.Unlock()
	}
	u.Password = ""
	return u, nil
}

// get is the row of user id, from memory when held.
func (c *userCache) get(ctx context.Context, db *store.Store, id int64) (models.User, error) {
	return c.signedIn(ctx, db, id, time.Duration(math.MaxInt64))
}

// signedIn is the row of a signed-in user for their own request: from memory when it was read less than
// maxAge ago, else from the store. A profile change drops the copy on every instance at once (forget);
// what else may change (disabled, the online window) is at most maxAge old, as old as the session that
// the request carries may be (the session cache's time), and the session of a disabled user ends on
// every instance.
func (c *userCache) signedIn(ctx context.Context, db *store.Store, id int64, maxAge time.Duration) (models.User, error) {
	c.mu.Lock()
	u, ok := c.byID[id]
	fresh := ok && time.Since(c.loaded[id]) < maxAge
	c.mu.Unlock()
	if fresh {
		return u, nil
	}
	u, err := db.UserByID(ctx, id)
	if err != nil {
		return u, err
	}
	u.Password = "" // what the callers show never needs it
	c.put(u)
	return u, nil
}

// active records a new end of the user's online window in the copy (the store has it already).
func (c *userCache) active(id int64, until *time.Time) {
	c.mu.Lock()
	if u, ok := c.byID[id]; ok {
		u.ActiveUntil = until
		c.byID[id] = u
	}
	c.mu.Unlock()
}

func (c *userCache) put(u models.User) {
	u.Password = "" // what fragments show never needs it
	c.mu.Lock()
	c.byID[u.UserID] = u
	c.loaded[u.UserID] = time.Now()
	c.mu.Unlock()
}

func (c *userCache) forget(id int64) {
	c.mu.Lock()
	delete(c.byID, id)
	delete(c.loaded, id)
	c.mu.Unlock()
}
