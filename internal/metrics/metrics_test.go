package metrics

import (
	"testing"
	"time"
)

// The calls on the hot paths allocate nothing: a message frame written, a batch committed, a slow
// socket dropped. An HTTP request allocates only its status label.
func TestHotPathsDoNotAllocate(t *testing.T) {
	m := New()
	committed := time.Now()
	for name, tc := range map[string]struct {
		fn   func()
		most float64
	}{
		"message written": {func() { m.MessageWritten(committed) }, 0},
		"batch":           {func() { m.ObserveBatch(3, 2) }, 0},
		"slow socket":     {func() { m.SlowSocketDropped(false) }, 0},
		"send latency":    {func() { m.SendLatency.Observe(0.002) }, 0},
		"http request":    {func() { m.ObserveRequest("POST", "/chat/:username/messages", 303, time.Millisecond) }, 1},
	} {
		if got := testing.AllocsPerRun(1000, tc.fn); got > tc.most {
			t.Errorf("%s: %v allocations per call, want at most %v", name, got, tc.most)
		}
	}
}

func BenchmarkMessageWritten(b *testing.B) {
	m := New()
	committed := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		m.MessageWritten(committed)
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("POST", "/chat/:username/messages", 303, time.Millisecond)
	}
}
