package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestRushSummary(t *testing.T) {
	stats := newRequestStats()
	for range 3 {
		stats.answered(http.StatusSeeOther, 40, 0)
	}
	stats.answered(http.StatusServiceUnavailable, 10e9, 500)
	s := &rushSummary{Users: 4, Wanted: 5, Rate: 20, Skipped: 2, SignIns: stats.summary(2e9)}
	reportSays(t, &report{Rush: s}, "4 of 5 users registered", "20 sign-ins started per second",
		"4 answered in 2.00s (2.0/s)", "303 ×3, 503 ×1", "3 signed in (303), 1 refused for load (503), 2 skipped")
	raw, err := json.Marshal(s.json())
	if err != nil || !strings.Contains(string(raw), `"refused_for_load":1`) || !strings.Contains(string(raw), `"signed_in":3`) {
		t.Fatalf("json: %v %s", err, raw)
	}
	var text strings.Builder
	(&report{}).write(&text)
	if strings.Contains(text.String(), "login rush") {
		t.Fatal("a chat report without a rush speaks of one")
	}
}

func TestLoginRushAgainstServer(t *testing.T) {
	cfg := spawnConfig(t, "-mode", "login-rush", "-rush-users", "4", "-rush-rate", "10", "-settle", "5s")
	rep, err := run(testContext(t, cfg), cfg, discard{})
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, rep.runInfo)
	d := rep.Delivery
	if d.Sent == 0 || d.Delivered != d.Sent || !rep.complete() || d.Latency.P99 <= 0 {
		t.Fatalf("chat beside the rush: %+v", d)
	}
	if rep.Rush == nil {
		t.Fatal("no login rush in the report")
	}
	s := rep.Rush.SignIns
	if rep.Rush.Users != 4 || s.Answered == 0 || s.Statuses[http.StatusSeeOther] == 0 || s.Latency.P50 <= 0 {
		t.Fatalf("sign-ins: %d users, %+v", rep.Rush.Users, s)
	}
	// Only success or refusal for load are answers a sign-in of a real user may get.
	if n := s.Statuses[http.StatusSeeOther] + s.Statuses[http.StatusServiceUnavailable]; n != s.Answered || s.NoAnswer != 0 {
		t.Fatalf("sign-in statuses %s", s.statusText())
	}
	reportSays(t, rep, "login rush", "sign-ins", "messages     sent")
}
