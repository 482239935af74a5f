package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// -mode idle: signed-in users open -sockets sockets (one per user by default, more spread over the
// users), -connect-concurrency handshakes at a time, and hold them for -hold without sending. It
// reports how fast they connected and what each open socket costs the server in RSS.

type idleReport struct {
	cfg config
	runInfo

	SocketsWanted int
	Sockets       int
	ConnectTime   time.Duration
	HoldTime      time.Duration
	ClosedByPeer  int64 // sockets the server or network ended while connecting or holding
	Frames        int64 // what the server sent while connecting and holding (presence, lists)
	Bytes         int64
	Before        *procSample // the server before the first socket opened
	After         *procSample // and at the end of the hold, every socket still open
	// After the hold: a new user's row reaching every socket, then their dot turning green on every one.
	NewUser, Presence fanOut
}

func runIdle(ctx context.Context, cfg config, logw io.Writer) (*idleReport, error) {
	rep := &idleReport{cfg: cfg, SocketsWanted: cfg.sockets}
	e, users, finish, err := setUpUsers(ctx, cfg, logw, &rep.runInfo, 1)
	defer finish()
	if e == nil {
		return nil, err
	}
	if err != nil {
		return rep, err
	}
	set := newSocketSet(newTracker(), e.errs, 0)
	defer set.closeAll()
	plan := socketPlan(users, 0, cfg.sockets-len(users))
	rep.SocketsWanted = len(plan)
	rep.Before = e.probe.sample()
	e.logf("opening %d sockets, %d at a time", len(plan), cfg.connectConcurrent)
	start := time.Now()
	set.open(ctx, e, plan, 0, cfg.connectRate)
	rep.ConnectTime = time.Since(start)
	rep.Sockets = len(set.all)
	if ctx.Err() != nil {
		return rep, fmt.Errorf("stopped while connecting: %w", context.Cause(ctx))
	}
	e.logf("holding %d sockets for %s", rep.Sockets, cfg.hold)
	start = time.Now()
	select {
	case <-time.After(cfg.hold):
	case <-ctx.Done():
	}
	rep.HoldTime = time.Since(start)
	rep.After = e.probe.sample()
	rep.ClosedByPeer = set.counters.closed.Load()
	rep.Frames, rep.Bytes = set.counters.frames.Load(), set.counters.bytes.Load()
	if ctx.Err() != nil {
		return rep, fmt.Errorf("stopped while holding: %w", context.Cause(ctx))
	}
	e.logf("probing: a new user registers, then opens a page")
	rep.NewUser, rep.Presence, err = probeIdleFanOuts(ctx, e, set)
	return rep, err
}

// rssPerSocket is the server's RSS growth from before connecting to the end of the hold, in KiB per
// open socket; ok is false without both samples or without sockets.
func (r *idleReport) rssPerSocket() (kib float64, ok bool) {
	if r.Before == nil || r.After == nil || r.Sockets == 0 {
		return 0, false
	}
	return float64(r.After.RSSKiB-r.Before.RSSKiB) / float64(r.Sockets), true
}

func (r *idleReport) complete() bool {
	return r.Sockets > 0 && r.Sockets == r.SocketsWanted && r.ClosedByPeer == 0
}

func (r *idleReport) write(w io.Writer) {
	p := newPrinter(w)
	r.writeHead(p)
	paced := ""
	if r.cfg.connectRate > 0 {
		paced = fmt.Sprintf(", paced at %.3g/s", r.cfg.connectRate)
	}
	p("sockets", "%d of %d open in %s (%.1f connects/s, %d at a time%s); %d failed",
		r.Sockets, r.SocketsWanted, fmtDur(r.ConnectTime), rate(r.Sockets, r.ConnectTime), r.cfg.connectConcurrent, paced, r.SocketsWanted-r.Sockets)
	p("hold", "%s idle; %d sockets ended by the server or network; %d frames, %s received", fmtDur(r.HoldTime), r.ClosedByPeer, r.Frames, byteSize(r.Bytes))
	if kib, ok := r.rssPerSocket(); ok {
		p("server RSS", "before connecting %s, after the hold %s: %.1f KiB per socket", mib(r.Before.RSSKiB), mib(r.After.RSSKiB), kib)
		p("", "VmHWM %s, %d threads", mib(r.After.HWMKiB), r.After.Threads)
	}
	for _, f := range []struct {
		name, what string
		fanOut
	}{{"new user", "row shown", r.NewUser}, {"presence", "dot green", r.Presence}} {
		if f.Sockets > 0 {
			p(f.name, "%s on %d of %d sockets; p50 %s, last %s from the request that made it", f.what, f.Reached, f.Sockets, fmtDur(f.P50), fmtDur(f.Last))
		}
	}
	r.writeTail(p)
}

func (r *idleReport) json() any {
	m := map[string]any{
		"mode":             modeIdle,
		"sockets_wanted":   r.SocketsWanted,
		"sockets":          r.Sockets,
		"failed":           r.SocketsWanted - r.Sockets,
		"connect_seconds":  r.ConnectTime.Seconds(),
		"connects_per_sec": rate(r.Sockets, r.ConnectTime),
		"connect_rate":     r.cfg.connectRate,
		"hold_seconds":     r.HoldTime.Seconds(),
		"closed_by_peer":   r.ClosedByPeer,
		"frames":           r.Frames,
		"bytes":            r.Bytes,
		"server_before":    toJSONProc(r.Before),
		"server_after":     toJSONProc(r.After),
		"new_user_fan_out": r.NewUser,
		"presence_fan_out": r.Presence,
	}
	if kib, ok := r.rssPerSocket(); ok {
		m["rss_kib_per_socket"] = kib
	}
	return r.addJSON(m)
}
