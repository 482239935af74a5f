package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"messenger/models"
	"messenger/models/store"
)

const (
	defaultLoginLimit    = 10
	defaultRegisterLimit = 10
	loginWindow          = 15 * time.Minute
	registerWindow       = time.Hour
	// An address may fail this many times the per-account limit across all accounts: a shared address
	// (an office, a carrier's NAT) holds many honest people, and one spraying guesses over many names
	// is still stopped.
	addressFactor = 10
)

// limit is one kind of counted attempt: at most max in a window per key; max 0 counts nothing.
type limit struct {
	kind   string
	max    int
	window time.Duration
}

func newLimit(kind string, configured, fallback int, window time.Duration) limit {
	switch {
	case configured == 0:
		configured = fallback
	case configured < 0:
		configured = 0
	}
	return limit{kind: kind, max: configured, window: window}
}

// tooManyError refuses an attempt over a limit; retryAfter says when the window ends.
type tooManyError struct{ retryAfter time.Duration }

func (e *tooManyError) Error() string { return fmt.Sprintf("over the limit for %v", e.retryAfter) }

// throttle counts attempts that cost the server (password hashing, accounts) in the database: every
// instance behind a load balancer shares one count, and a restart forgets nothing.
type throttle struct {
	store                       *store.Store
	login, loginAddr, registers limit
}

func newThrottle(st *store.Store, loginLimit, registerLimit int) *throttle {
	login := newLimit("login", loginLimit, defaultLoginLimit, loginWindow)
	return &throttle{
		store:     st,
		login:     login,
		loginAddr: limit{kind: "login-address", max: login.max * addressFactor, window: loginWindow},
		registers: newLimit("register", registerLimit, defaultRegisterLimit, registerWindow),
	}
}

// key names what is counted; the store keeps only its hash.
func (l limit) key(parts []string) string {
	return l.kind + "\x00" + strings.Join(parts, "\x00")
}

// hit counts one attempt under the key its parts make, before the work it guards is done, so parallel
// attempts cannot all slip under the limit. Over it, the attempt is refused with a *tooManyError and
// stays counted.
func (t *throttle) hit(ctx context.Context, l limit, parts ...string) error {
	if l.max == 0 {
		return nil
	}
	hits, resetAt, err := t.store.ThrottleHit(ctx, l.key(parts), l.window)
	if err != nil {
		return err
	}
	if hits > l.max {
		return &tooManyError{retryAfter: time.Until(resetAt)}
	}
	return nil
}

// undo takes back a hit whose attempt turned out not to count.
func (t *throttle) undo(ctx context.Context, l limit, parts ...string) error {
	if l.max == 0 {
		return nil
	}
	return t.store.ThrottleUndo(ctx, l.key(parts))
}

// loginAttempt counts a sign-in before its password is hashed: first against the client address
// (so an address over its bound adds no more rows), then against the account from that address. An
// attacker elsewhere never touches the owner's account+address count.
func (t *throttle) loginAttempt(ctx context.Context, account, addr string) error {
	if err := t.hit(ctx, t.loginAddr, addr); err != nil {
		return err
	}
	if err := t.hit(ctx, t.login, account, addr); err != nil {
		// Hammering one account does not use up the address's bound for the others behind it.
		return errors.Join(err, t.undo(ctx, t.loginAddr, addr))
	}
	return nil
}

// loginNotFailed takes back an attempt that did not fail: never checked (busy), or signed in, which
// also forgets the account's failures from that address.
func (t *throttle) loginNotFailed(ctx context.Context, account, addr string, signedIn bool) error {
	if t.login.max == 0 {
		return nil
	}
	var err error
	if signedIn {
		err = t.store.ThrottleForget(ctx, t.login.key([]string{account, addr}))
	} else {
		err = t.undo(ctx, t.login, account, addr)
	}
	return errors.Join(err, t.undo(ctx, t.loginAddr, addr))
}

// refuseTooMany answers an attempt over a limit: 429, Retry-After in whole seconds, and the form
// re-rendered with the reason. Other errors go to the error handler.
func refuseTooMany(c *fiber.Ctx, err error, rerender func(status int) error) error {
	var tooMany *tooManyError
	if !errors.As(err, &tooMany) {
		return err
	}
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int(math.Ceil(tooMany.retryAfter.Seconds())))))
	return rerender(http.StatusTooManyRequests)
}

// clientAddr is the address of whoever sent the request: the peer's, or, when the peer is a trusted
// proxy, the rightmost address in X-Forwarded-For that is not a trusted proxy. Proxies append what
// they saw, so everything left of that could have been written by the client itself.
func (s *Server) clientAddr(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	addr := peer.Unmap()
	if !s.trustedProxy(addr) {
		return addr
	}
	lines := c.Request().Header.PeekAll(fiber.HeaderXForwardedFor)
	for i := len(lines) - 1; i >= 0; i-- {
		hops := strings.Split(string(lines[i]), ",")
		for j := len(hops) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[j]))
			if err != nil {
				return addr // garbage a trusted proxy passed on: the last proxy is all we know
			}
			addr = hop.Unmap()
			if !s.trustedProxy(addr) {
				return addr
			}
		}
	}
	return addr
}

func (s *Server) trustedProxy(a netip.Addr) bool {
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addressKey is what the throttle counts a client address as: IPv6 by its /64, which one subscriber
// usually holds whole, so walking through its addresses neither escapes a limit nor fills the table.
func addressKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// hasher bounds concurrent argon2id work (19 MiB and tens of milliseconds each) so a flood of sign-ins
// cannot starve the chat of CPU and memory.
type hasher struct {
	Passwords
	slots chan struct{}
	wait  time.Duration
	// waited is told how long each caller waited for a slot (metrics).
	waited interface{ Observe(float64) }
}

var errHasherBusy = errors.New("password hashing queue is full")

func newHasher(workers int, wait time.Duration, waited interface{ Observe(float64) }, p Passwords) *hasher {
	return &hasher{Passwords: p, slots: make(chan struct{}, workers), wait: wait, waited: waited}
}

// Passwords hashes and checks passwords: models.HashPassword and VerifyPassword, wherever they run.
type Passwords interface {
	Hash(password string) (string, error)
	Verify(password, hash string) (bool, error)
}

// inProcess hashes on the calling goroutine.
type inProcess struct{}

func (inProcess) Hash(password string) (string, error) { return models.HashPassword(password) }
func (inProcess) Verify(password, hash string) (bool, error) {
	return models.VerifyPassword(password, hash)
}

func (h *hasher) do(ctx context.Context, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, h.wait)
	defer cancel()
	start := time.Now()
	select {
	case h.slots <- struct{}{}:
		h.waited.Observe(time.Since(start).Seconds())
	case <-ctx.Done():
		h.waited.Observe(time.Since(start).Seconds())
		return errHasherBusy
	}
	defer func() { <-h.slots }()
	return fn()
}

// sweepThrottles deletes counts whose window has ended, and invitations long expired, as often as
// sessions are swept, until ctx ends: the throttle table holds only live windows.
func (s *Server) sweepThrottles(ctx context.Context) {
	tick := time.NewTicker(s.sweepEvery)
	defer tick.Stop()
	for {
		if _, err := s.store.DeleteExpiredThrottles(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("sweep throttles", "err", err)
		}
		if _, err := s.store.DeleteOldInvites(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("sweep invitations", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
