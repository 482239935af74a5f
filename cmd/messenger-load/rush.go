package main

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// -mode login-rush: the chat runs as in -mode chat while another -rush-users users sign in over and
// over, -rush-rate sign-ins started per second whether or not the earlier ones were answered (an open
// loop: the offered load does not fall when the server slows). Compare the chat's latency with a
// -mode chat run of the same flags.

// maxSignInsInFlight bounds the sign-ins waiting for an answer; a start beyond it is skipped and
// counted.
const maxSignInsInFlight = 4096

type loginRush struct {
	e       *env
	users   []*user
	rate    float64
	stats   *requestStats
	skipped atomic.Int64
	slots   chan struct{}
	wg      sync.WaitGroup
	start   time.Time

	registerTime time.Duration
}

// newLoginRush registers the rush's users (before the chat starts, so that registering does not
// count as the rush).
func (e *env) newLoginRush(ctx context.Context) (*loginRush, error) {
	cfg := e.cfg
	e.logf("registering %d users to sign in over and over", cfg.rushUsers)
	users, took := e.register(ctx, cfg.rushUsers, "r")
	if len(users) == 0 {
		return nil, errors.New("no sign-in user registered")
	}
	return &loginRush{e: e, users: users, rate: cfg.rushRate, stats: newRequestStats(),
		slots: make(chan struct{}, maxSignInsInFlight), registerTime: took}, nil
}

// run starts sign-ins at the rush's rate until end, each by its own goroutine, the users in turn.
// wait returns once every sign-in started has been answered.
func (r *loginRush) run(ctx context.Context, end time.Time) {
	r.start = time.Now()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		interval := time.Duration(float64(time.Second) / r.rate)
		timer := time.NewTimer(0)
		defer timer.Stop()
		next := r.start
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			if !time.Now().Before(end) {
				return
			}
			select {
			case r.slots <- struct{}{}:
				r.wg.Add(1)
				go r.signIn(ctx, r.users[i%len(r.users)])
			default:
				r.skipped.Add(1)
			}
			next = next.Add(interval)
			timer.Reset(time.Until(next))
		}
	}()
}

func (r *loginRush) signIn(ctx context.Context, u *user) {
	defer r.wg.Done()
	defer func() { <-r.slots }()
	status, took, size, err := r.e.reg.signIn(ctx, u.username)
	if err != nil {
		if ctx.Err() == nil {
			r.stats.unanswered()
			r.e.errs.add("sign-in: " + err.Error())
		}
		return
	}
	r.stats.answered(status, took, size)
}

func (r *loginRush) wait() *rushSummary {
	r.wg.Wait()
	return &rushSummary{Users: len(r.users), Wanted: r.e.cfg.rushUsers, RegisterTime: r.registerTime,
		Rate: r.rate, Skipped: r.skipped.Load(), SignIns: r.stats.summary(time.Since(r.start))}
}

// rushSummary is the sign-ins' part of a login-rush report.
type rushSummary struct {
	Users        int // registered to sign in
	Wanted       int
	RegisterTime time.Duration
	Rate         float64
	Skipped      int64 // starts skipped: maxSignInsInFlight were unanswered
	SignIns      requestSummary
}

func (s *rushSummary) write(p printer) {
	p("login rush", "%d of %d users registered in %s sign in over and over, %.3g sign-ins started per second",
		s.Users, s.Wanted, fmtDur(s.RegisterTime), s.Rate)
	s.SignIns.write(p, "sign-ins")
	p("", "%d signed in (303), %d refused for load (503), %d skipped (%d unanswered already)",
		s.SignIns.Statuses[http.StatusSeeOther], s.SignIns.Statuses[http.StatusServiceUnavailable], s.Skipped, maxSignInsInFlight)
}

func (s *rushSummary) json() map[string]any {
	return map[string]any{
		"users":            s.Users,
		"users_wanted":     s.Wanted,
		"register_seconds": s.RegisterTime.Seconds(),
		"rate":             s.Rate,
		"skipped":          s.Skipped,
		"signed_in":        s.SignIns.Statuses[http.StatusSeeOther],
		"refused_for_load": s.SignIns.Statuses[http.StatusServiceUnavailable],
		"sign_ins":         s.SignIns.json(),
	}
}
