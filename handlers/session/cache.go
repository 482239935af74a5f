package session

import (
	"sync"
	"time"

	"messenger/models"
)

// cache holds signed-in session rows for a few seconds, so a burst of requests (a page, its fragments
// and its socket) reads the database once. A row leaves it when its time is up, when it expires, and
// at once when its session ends (evict).
//
// A load that read the database before an eviction must not put back what the eviction removed:
// every eviction advances the epoch, and put only stores a row read within the current epoch.
type cache struct {
	ttl time.Duration

	mu    sync.Mutex
	gen   uint64
	items map[string]cached
}

type cached struct {
	row   models.Session
	until time.Time
}

func newCache(ttl time.Duration) *cache {
	return &cache{ttl: ttl, items: map[string]cached{}}
}

func (c *cache) get(hash string) (models.Session, bool) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[hash]
	if !ok || now.After(it.until) || !now.Before(it.row.ExpiresAt) {
		return models.Session{}, false
	}
	return it.row, true
}

// epoch is read before a database read whose result may be put.
func (c *cache) epoch() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *cache) put(row models.Session, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.gen {
		return
	}
	c.items[row.IDHash] = cached{row: row, until: time.Now().Add(c.ttl)}
}

func (c *cache) evict(hashes ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, h := range hashes {
		delete(c.items, h)
	}
}

// prune drops the rows whose time is up.
func (c *cache) prune() {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, it := range c.items {
		if now.After(it.until) {
			delete(c.items, h)
		}
	}
}
