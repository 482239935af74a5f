package store

import (
	"testing"
	"time"
)

// The committer's estimate of the send rate follows a steady rate, falls away when sends stop, and
// tells a lone sender (who must never wait for a linger) from a busy server.
func TestSendRateEstimate(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	steady := func(perSecond int, d time.Duration) (sendRate, time.Time) {
		var r sendRate
		every := time.Second / time.Duration(perSecond)
		now := start
		for ; now.Sub(start) < d; now = now.Add(every) {
			r.add(now, 1)
		}
		return r, now
	}

	r, now := steady(2000, time.Second)
	if got := r.perSecond(now); got < 1900 || got > 2100 {
		t.Errorf("2,000 sends a second for a second: estimated %.0f", got)
	}
	if got := r.perSecond(now.Add(time.Second)); got >= 1 {
		t.Errorf("a second after the sends stopped: estimated %.2f, want below 1", got)
	}

	for _, c := range []struct {
		perSecond int
		linger    bool
	}{{1, false}, {10, false}, {100, false}, {400, false}, {700, true}, {2000, true}, {20000, true}} {
		r, now := steady(c.perSecond, 2*time.Second)
		if got := r.perSecond(now) >= lingerRate; got != c.linger {
			t.Errorf("%d sends a second (estimated %.0f): linger %v, want %v", c.perSecond, r.perSecond(now), got, c.linger)
		}
	}

	// Batches count as many sends as they hold.
	var b sendRate
	for i := range 100 {
		b.add(start.Add(time.Duration(i)*5*time.Millisecond), 10) // 10 sends every 5 ms: 2,000 a second
	}
	if got := b.perSecond(start.Add(500 * time.Millisecond)); got < 1800 || got > 2200 {
		t.Errorf("batches of 10 every 5 ms: estimated %.0f, want about 2,000", got)
	}
}
