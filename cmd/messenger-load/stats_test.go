package main

import (
	"slices"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var samples []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose: summarize sorts a copy
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	s := summarize(samples)
	want := latencySummary{Count: 100, Mean: 50500 * time.Microsecond, P50: 50 * time.Millisecond,
		P90: 90 * time.Millisecond, P95: 95 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if s != want {
		t.Fatalf("summarize(1..100 ms) = %+v, want %+v", s, want)
	}
	if samples[0] != 100*time.Millisecond {
		t.Fatal("summarize sorted its argument in place")
	}
	if got := summarize(nil); got != (latencySummary{}) {
		t.Fatalf("summarize(nil) = %+v", got)
	}
	one := []time.Duration{7 * time.Millisecond}
	for _, p := range []float64{1, 50, 99, 100} {
		if got := percentile(one, p); got != one[0] {
			t.Fatalf("percentile([7ms], %v) = %v", p, got)
		}
	}
	// Nearest rank: the 95th percentile of 10 samples is the 10th, of 20 the 19th.
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if got := percentile(ten, 95); got != 10 {
		t.Fatalf("p95 of 1..10 = %v, want 10", got)
	}
	if got := percentile(ten, 50); got != 5 {
		t.Fatalf("p50 of 1..10 = %v, want 5", got)
	}
}

func TestHistogram(t *testing.T) {
	bounds := []time.Duration{10, 20}
	got := histogram([]time.Duration{1, 10, 11, 20, 21, 1000}, bounds)
	want := []bucket{{10, 2}, {20, 2}, {0, 2}}
	if len(got) != len(want) {
		t.Fatalf("histogram = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("histogram = %v, want %v", got, want)
		}
	}
}

func TestTracker(t *testing.T) {
	tr := newTracker()
	t0 := time.Unix(1000, 0)
	// User 0 sends to user 1; each has one socket (ids 10 and 11): two socket deliveries expected.
	tr.send("a", 0, 1, 2, t0)
	tr.send("b", 0, 1, 2, t0.Add(time.Second))
	tr.send("c", 1, 0, 2, t0.Add(2*time.Second)) // write failed
	tr.unsend("c")
	tr.arrive(10, 0, "a", t0.Add(1*time.Millisecond)) // the sender's own socket: not a delivery
	tr.arrive(11, 1, "a", t0.Add(5*time.Millisecond))
	tr.arrive(11, 1, "a", t0.Add(6*time.Millisecond)) // the same socket again: a duplicate
	tr.arrive(11, 1, "zzz", t0)                       // never sent
	tr.stopSending()
	select {
	case <-tr.allDone:
		t.Fatal("allDone closed with b undelivered")
	default:
	}
	st := tr.stats()
	if st.Sent != 2 || st.Delivered != 1 || st.Lost != 1 || st.Duplicates != 1 || st.Unknown != 1 {
		t.Fatalf("stats = %+v", st)
	}
	if st.FanoutWant != 4 || st.FanoutGot != 2 {
		t.Fatalf("fan-out %d of %d, want 2 of 4", st.FanoutGot, st.FanoutWant)
	}
	if st.Latency.Count != 1 || st.Latency.Max != 5*time.Millisecond {
		t.Fatalf("latency = %+v", st.Latency)
	}
	owners := map[int]int{10: 0, 11: 1, 12: 2} // socket 12: a user with no messages
	if n, missing := tr.shortSockets(owners); n != 2 || missing != 2 {
		t.Fatalf("shortSockets = %d sockets missing %d, want 2 missing 2", n, missing)
	}
	tr.arrive(11, 1, "b", t0.Add(time.Second+20*time.Millisecond))
	tr.arrive(10, 0, "b", t0.Add(time.Second+30*time.Millisecond))
	select {
	case <-tr.allDone:
	default:
		t.Fatal("allDone still open with everything delivered")
	}
	st = tr.stats()
	if st.Lost != 0 || st.Latency.P50 != 5*time.Millisecond || st.Latency.Max != 20*time.Millisecond {
		t.Fatalf("stats = %+v", st)
	}
	if n, missing := tr.shortSockets(map[int]int{10: 0, 11: 1}); n != 0 || missing != 0 {
		t.Fatalf("shortSockets = %d sockets missing %d after every delivery", n, missing)
	}
	if got := st.LastArrival.Sub(st.FirstSend); got != time.Second+20*time.Millisecond {
		t.Fatalf("first send to last arrival = %v", got)
	}
}

func TestClientIDs(t *testing.T) {
	frag := []byte(`<div id="append-x"><article data-message-id="1" data-client-id="r-1-1"></article>` +
		`<article data-message-id="2" data-client-id="r-1-2"></article></div><ul id="user-list"></ul>`)
	got := clientIDs(frag)
	if len(got) != 2 || got[0] != "r-1-1" || got[1] != "r-1-2" {
		t.Fatalf("clientIDs = %q", got)
	}
	if got := clientIDs([]byte(`<ul id="user-list"></ul>`)); len(got) != 0 {
		t.Fatalf("clientIDs(no messages) = %q", got)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:80/"} {
		if _, err := loopbackURL(u); err != nil {
			t.Errorf("loopbackURL(%q): %v", u, err)
		}
	}
	for _, u := range []string{"http://example.org", "http://10.0.0.1:8080", "https://127.0.0.1", "http://127.0.0.1/x"} {
		if _, err := loopbackURL(u); err == nil {
			t.Errorf("loopbackURL(%q) accepted", u)
		}
	}
	if err := loopbackDatabase("postgres", "postgres://u@db.example.org/x"); err == nil {
		t.Error("a remote database was accepted")
	}
	if err := loopbackDatabase("postgres", "postgres://postgres@127.0.0.1:54329/messenger_test?sslmode=disable"); err != nil {
		t.Error(err)
	}
}

func TestScrapeCSRF(t *testing.T) {
	page := []byte(`<form method="post"><input type="hidden" name="_csrf" value="ab&amp;c"/></form>`)
	if got := scrapeCSRF(page); got != "ab&c" {
		t.Fatalf("scrapeCSRF = %q", got)
	}
}

func TestFlagsBounded(t *testing.T) {
	for _, args := range [][]string{
		{"-rate", "5"}, {"-pairs", "101"}, {"-url", "http://192.0.2.1:8080"}, {"-spawn", "-url", "http://127.0.0.1:1"},
		{"-duration", "0s"}, {"-sockets", "10"}, {"-mode", "bogus"}, {"-mode", "history", "-history-page", "newer"},
		{"-mode", "history", "-seed", "1"}, {"-mode", "history", "-concurrency", "0"}, {"-mode", "history", "-users", "4"},
		{"-mode", "idle", "-hold", "-1s"}, {"-mode", "login-rush", "-rush-rate", "0"}, {"-mode", "login-rush", "-rush-users", "0"},
		{"-url", "http://127.0.0.1:1,http://192.0.2.1:2"}, {"-pid", "0"}, {"-pid", "12,x"}, {"-spawn", "-pid", "12"},
		{"-url", "http://127.0.0.1:1,http://127.0.0.1:2", "-pid", "12"},
	} {
		if _, err := parseFlags(args, discard{}); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	c, err := parseFlags([]string{"-users", "10", "-pairs", "5"}, discard{})
	if err != nil || c.sockets != 10 || c.mode != modeChat {
		t.Fatalf("parseFlags: %+v, %v", c, err)
	}
	// Idle has no pairs: the default -pairs does not have to fit -users.
	c, err = parseFlags([]string{"-mode", "idle", "-users", "4", "-sockets", "8"}, discard{})
	if err != nil || c.mode != modeIdle || c.sockets != 8 || c.hold != 10*time.Second {
		t.Fatalf("parseFlags(idle): %+v, %v", c, err)
	}
	c, err = parseFlags([]string{"-url", "http://127.0.0.1:1,http://127.0.0.1:2", "-pid", "12,13"}, discard{})
	if err != nil || !slices.Equal(c.pids, []int{12, 13}) {
		t.Fatalf("parseFlags(two instances): %+v, %v", c, err)
	}
	c, err = parseFlags([]string{"-mode", "history", "-users", "4", "-pairs", "2"}, discard{})
	if err != nil || c.historyPage != "older" || c.seed != 200 || c.concurrency != 64 {
		t.Fatalf("parseFlags(history): %+v, %v", c, err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
