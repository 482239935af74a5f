package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// requestStats counts HTTP requests of one kind: the latency, status and size of every answered one,
// and those that got no answer. Safe for concurrent use.
type requestStats struct {
	mu        sync.Mutex
	latencies []time.Duration
	statuses  map[int]int
	bytes     int64
	noAnswer  int
}

func newRequestStats() *requestStats { return &requestStats{statuses: map[int]int{}} }

// answered records a request answered with status after took, its body n bytes long.
func (s *requestStats) answered(status int, took time.Duration, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies = append(s.latencies, took)
	s.statuses[status]++
	s.bytes += int64(n)
}

// unanswered records a request that failed before an answer came (its error is counted elsewhere).
func (s *requestStats) unanswered() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noAnswer++
}

// requestSummary is requestStats as a report wants it, over Time (how long the requests were made).
type requestSummary struct {
	Answered int
	NoAnswer int
	Statuses map[int]int
	Bytes    int64
	Latency  latencySummary
	Time     time.Duration
}

func (s *requestStats) summary(over time.Duration) requestSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return requestSummary{Answered: len(s.latencies), NoAnswer: s.noAnswer, Statuses: maps.Clone(s.statuses),
		Bytes: s.bytes, Latency: summarize(s.latencies), Time: over}
}

// failed counts the requests not answered with status ok.
func (r requestSummary) failed(ok int) int { return r.Answered + r.NoAnswer - r.Statuses[ok] }

func (r requestSummary) bytesPerAnswer() int64 {
	if r.Answered == 0 {
		return 0
	}
	return r.Bytes / int64(r.Answered)
}

// statusText lists the statuses, most frequent first: "200 ×950, 503 ×50".
func (r requestSummary) statusText() string {
	codes := slices.Collect(maps.Keys(r.Statuses))
	slices.SortFunc(codes, func(a, b int) int {
		if r.Statuses[a] != r.Statuses[b] {
			return r.Statuses[b] - r.Statuses[a]
		}
		return a - b
	})
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d ×%d", c, r.Statuses[c]))
	}
	if r.NoAnswer > 0 {
		parts = append(parts, fmt.Sprintf("no answer ×%d", r.NoAnswer))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// write prints the requests under label: count and rate, latency, statuses, size.
func (r requestSummary) write(p printer, label string) {
	l := r.Latency
	p(label, "%d answered in %s (%.1f/s)", r.Answered, fmtDur(r.Time), rate(r.Answered, r.Time))
	p("latency", "p50 %s  p90 %s  p99 %s  max %s  (mean %s, n=%d)", fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P99), fmtDur(l.Max), fmtDur(l.Mean), l.Count)
	p("statuses", "%s", r.statusText())
	p("size", "%s per response (%s in all)", byteSize(r.bytesPerAnswer()), byteSize(r.Bytes))
}

func (r requestSummary) json() map[string]any {
	statuses := map[string]int{}
	for c, n := range r.Statuses {
		statuses[fmt.Sprint(c)] = n
	}
	l := r.Latency
	return map[string]any{
		"answered":           r.Answered,
		"no_answer":          r.NoAnswer,
		"seconds":            r.Time.Seconds(),
		"per_second":         rate(r.Answered, r.Time),
		"statuses":           statuses,
		"bytes":              r.Bytes,
		"bytes_per_response": r.bytesPerAnswer(),
		"latency":            jsonLatency{l.Count, ms(l.Mean), ms(l.P50), ms(l.P90), ms(l.P95), ms(l.P99), ms(l.Max)},
	}
}
