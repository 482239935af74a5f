package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestHistoryRequest(t *testing.T) {
	a, b := &user{username: "a"}, &user{username: "b"}
	convs := []*conversation{{a: a, b: b, ids: []int64{7, 9, 12}}}
	seen := map[string]bool{}
	for range 200 {
		reader, path, header := historyRequest(convs, "older")
		if header.Get("HX-Request") != "true" {
			t.Fatalf("older fragment asked without HX-Request: %v", header)
		}
		want := "/chat/b/messages?before="
		if reader == b {
			want = "/chat/a/messages?before="
		}
		if !strings.HasPrefix(path, want) {
			t.Fatalf("reader %s asked %q", reader.username, path)
		}
		seen[path[len(want):]] = true
	}
	// The oldest message has nothing before it: never a cursor.
	if seen["7"] || !seen["9"] || !seen["12"] {
		t.Fatalf("cursors used: %v", seen)
	}
	reader, path, header := historyRequest(convs, "page")
	if header != nil || (path != "/chat/b" && path != "/chat/a") || (reader == a) != (path == "/chat/b") {
		t.Fatalf("page request: %s %q %v", reader.username, path, header)
	}
}

func TestRequestSummary(t *testing.T) {
	s := newRequestStats()
	s.answered(200, 3, 100)
	s.answered(200, 1, 300)
	s.answered(404, 2, 20)
	s.answered(200, 4, 0)
	s.unanswered()
	r := s.summary(2)
	if r.Answered != 4 || r.NoAnswer != 1 || r.failed(http.StatusOK) != 2 || r.bytesPerAnswer() != 105 {
		t.Fatalf("summary %+v: failed %d, bytes per answer %d", r, r.failed(200), r.bytesPerAnswer())
	}
	if got := r.statusText(); got != "200 ×3, 404 ×1, no answer ×1" {
		t.Fatalf("statusText = %q", got)
	}
	if r.Latency.P50 != 2 || r.Latency.Max != 4 {
		t.Fatalf("latency %+v", r.Latency)
	}
	if got := (requestSummary{}).statusText(); got != "none" {
		t.Fatalf("statusText of nothing = %q", got)
	}
}

func TestHistoryAgainstServer(t *testing.T) {
	for _, page := range []string{"older", "page"} {
		t.Run(page, func(t *testing.T) {
			cfg := spawnConfig(t, "-mode", "history", "-history-page", page, "-seed", "60", "-concurrency", "4")
			rep, err := runHistory(testContext(t, cfg), cfg, discard{})
			if err != nil {
				t.Fatal(err)
			}
			noErrors(t, rep.runInfo)
			r := rep.Requests
			if rep.Conversations != 2 || rep.Seeded != 120 {
				t.Fatalf("seeded %d messages in %d conversations, want 120 in 2", rep.Seeded, rep.Conversations)
			}
			if r.Answered == 0 || r.failed(http.StatusOK) != 0 || r.bytesPerAnswer() == 0 || r.Latency.P50 <= 0 {
				t.Fatalf("requests %+v", r)
			}
			if rep.ServerCPU < 0 || rep.cpuPerRequest() < 0 {
				t.Fatalf("no server CPU from the spawned server's /proc: %v", rep.ServerCPU)
			}
			if !rep.complete() {
				t.Fatal("complete() is false for a run without failures")
			}
			reportSays(t, rep, "requests     ", "p90", "200 ×", "per request")
			raw, err := json.Marshal(rep.json())
			if err != nil || !bytes.Contains(raw, []byte(`"mode":"history"`)) {
				t.Fatalf("json: %v %s", err, raw)
			}
		})
	}
}
