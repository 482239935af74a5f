package handlers

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"
)

// NoLimit in a limit field (FlowLimits, Deps.LoginLimit, Deps.RegisterLimit) lifts that limit (the
// environment says 0).
const NoLimit = -1

// FlowLimits bounds what one user, one session and one client address may ask of the server. A zero
// field takes its default; NoLimit lifts it.
type FlowLimits struct {
	// SendRate is the messages per second one user may send, sustained, over all their sockets and
	// HTTP together (SEND_RATE, default 20); SendBurst how many may come at once (default twice the rate).
	// A sender over it is slowed, never refused: a socket's frames are read later, an HTTP send waits.
	SendRate  float64
	SendBurst int
	// SendWait is the longest an HTTP send waits for its turn; beyond it the answer is 429 with
	// Retry-After and the text kept (default 10 seconds).
	SendWait time.Duration
	// SocketsPerUser (MAX_SOCKETS, default 16) and SocketsPerSession (default 8): past them the
	// user's or browser's oldest socket closes.
	SocketsPerUser    int
	SocketsPerSession int
	// SocketsPerAddress bounds the concurrent sockets from one client address (MAX_SOCKETS_PER_ADDRESS,
	// default 64); past it an upgrade is answered 429.
	SocketsPerAddress int
}

// DefaultFlowLimits: 20 messages a second is more than a person types and pastes; a page that flushes
// 200 messages it queued while offline takes 8 seconds, the first 40 at once. 16 sockets are a person's
// tabs on a few devices; 8 one browser's tabs; 64 per address leaves room for an office behind one NAT.
var DefaultFlowLimits = FlowLimits{SendRate: 20, SendWait: 10 * time.Second, SocketsPerUser: 16, SocketsPerSession: 8, SocketsPerAddress: 64}

// withDefaults fills zero fields from DefaultFlowLimits.
func (l FlowLimits) withDefaults() FlowLimits {
	d := DefaultFlowLimits
	if l.SendRate == 0 {
		l.SendRate = d.SendRate
	}
	if l.SendBurst == 0 {
		l.SendBurst = max(1, int(math.Ceil(2*l.SendRate)))
	}
	if l.SendWait == 0 {
		l.SendWait = d.SendWait
	}
	if l.SocketsPerUser == 0 {
		l.SocketsPerUser = d.SocketsPerUser
	}
	if l.SocketsPerSession == 0 {
		l.SocketsPerSession = NoLimit
		if l.SocketsPerUser != NoLimit {
			l.SocketsPerSession = min(d.SocketsPerSession, l.SocketsPerUser)
		}
	}
	if l.SocketsPerAddress == 0 {
		l.SocketsPerAddress = d.SocketsPerAddress
	}
	return l
}

// capOf turns a FlowLimits count into the hub's convention (0: no limit).
func capOf(n int) int { return max(n, 0) }

// budgets holds one user's flow budgets. Every frame of a socket takes a token from frames, and a
// message also one from sends. Sends are what SEND_RATE is about; frames (typing, open, close, bad
// frames) get twice that budget so a typing page never holds up its sends, while a page that floods
// "open" (each replays up to 1,000 messages) is slowed like a flooding sender.
type budgets struct {
	sends, frames *rate.Limiter
}

// flowControl keeps the budgets of the users who used them lately. A budget that has refilled to its
// burst is the same as a new one, so it is forgotten: the table holds only users active in the last
// few seconds.
type flowControl struct {
	limits FlowLimits
	mu     sync.Mutex
	users  map[int64]*budgets
	sweep  int // sweep the table once it holds this many users
}

func newFlowControl(l FlowLimits) *flowControl {
	return &flowControl{limits: l, users: map[int64]*budgets{}, sweep: 1024}
}

// reserve takes a token for a frame (and for a message when send) of user now, in order with the
// user's other sockets and requests; the caller waits for the reservations' delay.
func (f *flowControl) reserve(userID int64, send bool) []*rate.Reservation {
	if f.limits.SendRate == NoLimit {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	b := f.users[userID]
	if b == nil {
		if len(f.users) >= f.sweep {
			f.forgetIdle(now)
		}
		b = &budgets{
			sends:  rate.NewLimiter(rate.Limit(f.limits.SendRate), f.limits.SendBurst),
			frames: rate.NewLimiter(rate.Limit(2*f.limits.SendRate), 2*f.limits.SendBurst),
		}
		f.users[userID] = b
	}
	rs := []*rate.Reservation{b.frames.ReserveN(now, 1)}
	if send {
		rs = append(rs, b.sends.ReserveN(now, 1))
	}
	return rs
}

// forgetIdle drops the budgets that are full again; called under f.mu when the table has grown, so
// its cost is spread over the insertions that grew it.
func (f *flowControl) forgetIdle(now time.Time) {
	for id, b := range f.users {
		if b.sends.TokensAt(now) >= float64(b.sends.Burst()) && b.frames.TokensAt(now) >= float64(b.frames.Burst()) {
			delete(f.users, id)
		}
	}
	f.sweep = max(1024, 2*len(f.users))
}

func delayOf(rs []*rate.Reservation) time.Duration {
	var d time.Duration
	for _, r := range rs {
		d = max(d, r.Delay())
	}
	return d
}

// waitFrame holds a socket's reader until the user's budget has room for this frame: meanwhile the
// socket is not read, so TCP pushes back on the client and nothing it sent is lost. False: the socket
// closed while waiting.
func (f *flowControl) waitFrame(ctx context.Context, userID int64, send bool) bool {
	rs := f.reserve(userID, send)
	return sleep(ctx, delayOf(rs), rs)
}

// waitSend holds an HTTP send until the user's budget has room for it; if that would take longer
// than SendWait (or the request ends first) it is refused with 429 and Retry-After, and the budget is
// left as it was.
func (f *flowControl) waitSend(c *fiber.Ctx, userID int64) error {
	rs := f.reserve(userID, true)
	d := delayOf(rs)
	if d > f.limits.SendWait || !sleep(c.UserContext(), d, rs) {
		for _, r := range rs {
			r.Cancel()
		}
		secs := max(1, int(math.Ceil((d - f.limits.SendWait).Seconds())))
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
		wait := "a second"
		if secs > 1 {
			wait = fmt.Sprintf("%d seconds", secs)
		}
		return errorf(http.StatusTooManyRequests, "You are sending faster than Messenger allows. Your message was not sent; it is still here. Try again in "+wait+".")
	}
	return nil
}

// sleep waits d unless ctx ends first (then the reservations are given back).
func sleep(ctx context.Context, d time.Duration, rs []*rate.Reservation) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		for _, r := range rs {
			r.Cancel()
		}
		return false
	}
}

// addressSockets counts the open sockets of each client address; the address "" (a loopback peer)
// is not counted.
type addressSockets struct {
	limit int // NoLimit: none
	mu    sync.Mutex
	n     map[string]int
}

func newAddressSockets(limit int) *addressSockets {
	return &addressSockets{limit: limit, n: map[string]int{}}
}

// full reports whether addr has as many sockets as allowed: checked before the upgrade, so a refusal
// is a readable 429.
func (a *addressSockets) full(addr string) bool {
	if a.limit == NoLimit || addr == "" {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n[addr] >= a.limit
}

// acquire counts a socket of addr, unless that would pass the limit: upgrades racing past full are
// caught here. Each true must be matched by a release.
func (a *addressSockets) acquire(addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if addr == "" {
		return true
	}
	if a.limit != NoLimit && a.n[addr] >= a.limit {
		return false
	}
	a.n[addr]++
	return true
}

func (a *addressSockets) release(addr string) {
	if addr == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n[addr]--; a.n[addr] <= 0 {
		delete(a.n, addr)
	}
}
