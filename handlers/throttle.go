package handlers

import (
	"context"
	"errors"
	"sync"
	"time"
)

// LoginLimits bounds failed sign-ins in a window, per account and per client address.
type LoginLimits struct {
	PerAccount int
	PerIP      int
	Window     time.Duration
}

var defaultLoginLimits = LoginLimits{PerAccount: 10, PerIP: 100, Window: 15 * time.Minute}

type counter struct {
	n       int
	resetAt time.Time
}

// loginThrottle counts failed sign-ins in fixed windows. It is per instance: behind a load balancer
// each instance allows the limit, which still stops an online guessing attack.
type loginThrottle struct {
	mu        sync.Mutex
	limits    LoginLimits
	byAccount map[string]*counter
	byIP      map[string]*counter
}

func newLoginThrottle(l LoginLimits) *loginThrottle {
	return &loginThrottle{limits: l, byAccount: map[string]*counter{}, byIP: map[string]*counter{}}
}

func (t *loginThrottle) current(m map[string]*counter, key string, now time.Time) *counter {
	c, ok := m[key]
	if !ok || now.After(c.resetAt) {
		if len(m) > 100_000 {
			for k, v := range m {
				if now.After(v.resetAt) {
					delete(m, k)
				}
			}
		}
		c = &counter{resetAt: now.Add(t.limits.Window)}
		m[key] = c
	}
	return c
}

// Allowed reports whether another attempt may be checked. Attempts refused here are not counted
// against the address, so hammering one account does not lock its owner's neighbours out.
func (t *loginThrottle) Allowed(account, ip string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	return t.current(t.byAccount, account, now).n < t.limits.PerAccount && t.current(t.byIP, ip, now).n < t.limits.PerIP
}

// Failed records a wrong password or unknown user.
func (t *loginThrottle) Failed(account, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.current(t.byAccount, account, now).n++
	t.current(t.byIP, ip, now).n++
}

// Succeeded forgets the account's failures.
func (t *loginThrottle) Succeeded(account string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byAccount, account)
}

// hasher bounds concurrent argon2id work (19 MiB and tens of milliseconds each) so a flood of sign-ins
// cannot starve the chat of CPU and memory.
type hasher struct {
	slots chan struct{}
	wait  time.Duration
}

var errHasherBusy = errors.New("password hashing queue is full")

func newHasher(workers int, wait time.Duration) *hasher {
	return &hasher{slots: make(chan struct{}, workers), wait: wait}
}

func (h *hasher) do(ctx context.Context, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, h.wait)
	defer cancel()
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return errHasherBusy
	}
	defer func() { <-h.slots }()
	return fn()
}
