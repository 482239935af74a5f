package main

import (
	"testing"
	"time"
)

func TestIdleReport(t *testing.T) {
	r := &idleReport{SocketsWanted: 10, Sockets: 8, ConnectTime: 2 * time.Second,
		Before: &procSample{RSSKiB: 1000}, After: &procSample{RSSKiB: 1200}}
	if kib, ok := r.rssPerSocket(); !ok || kib != 25 {
		t.Fatalf("rssPerSocket = %v, %v; want 25 KiB", kib, ok)
	}
	if r.complete() {
		t.Fatal("complete() with 2 sockets that failed to open")
	}
	r.Presence = fanOut{Sockets: 8, Reached: 7, P50: 20 * time.Millisecond, Last: 300 * time.Millisecond}
	reportSays(t, r, "8 of 10 open", "4.0 connects/s", "2 failed", "25.0 KiB per socket", "dot green on 7 of 8 sockets; p50 20ms, last 300ms from the request")
	if _, ok := (&idleReport{Sockets: 8}).rssPerSocket(); ok {
		t.Fatal("rssPerSocket without /proc samples")
	}
}

func TestIdleAgainstServer(t *testing.T) {
	cfg := spawnConfig(t, "-mode", "idle", "-sockets", "8", "-hold", "1s")
	rep, err := runIdle(testContext(t, cfg), cfg, discard{})
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, rep.runInfo)
	if rep.Sockets != 8 || rep.SocketsWanted != 8 || !rep.complete() {
		t.Fatalf("%d of %d sockets open, %d closed by the server", rep.Sockets, rep.SocketsWanted, rep.ClosedByPeer)
	}
	if rep.ConnectTime <= 0 || rep.HoldTime < time.Second || rep.Frames == 0 {
		t.Fatalf("connect %s, hold %s, %d frames", rep.ConnectTime, rep.HoldTime, rep.Frames)
	}
	for name, f := range map[string]fanOut{"new user": rep.NewUser, "presence": rep.Presence} {
		if f.Sockets != 8 || f.Reached != 8 || f.Last < f.P50 || f.P50 <= 0 {
			t.Errorf("%s fan-out: %+v, want all 8 sockets reached", name, f)
		}
	}
	if _, ok := rep.rssPerSocket(); !ok || rep.Before.RSSKiB == 0 || rep.After.RSSKiB == 0 {
		t.Fatalf("server RSS before %+v, after %+v", rep.Before, rep.After)
	}
}
