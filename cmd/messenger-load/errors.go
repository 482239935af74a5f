package main

import (
	"slices"
	"strings"
	"sync"
)

// maxErrorKinds bounds how many distinct error texts are kept; the rest are counted together.
const maxErrorKinds = 50

// errorCounts counts errors by kind (a short, stable description), so a storm of identical failures
// stays one line of the report.
type errorCounts struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
}

func newErrorCounts() *errorCounts { return &errorCounts{counts: map[string]int{}} }

func (e *errorCounts) add(kind string) {
	kind = strings.TrimSpace(kind)
	if len(kind) > 200 {
		kind = kind[:200] + "…"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.total++
	if _, ok := e.counts[kind]; !ok && len(e.counts) >= maxErrorKinds {
		kind = "(other errors)"
	}
	e.counts[kind]++
}

type errorCount struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
}

// list returns the kinds, most frequent first.
func (e *errorCounts) list() []errorCount {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]errorCount, 0, len(e.counts))
	for k, n := range e.counts {
		out = append(out, errorCount{k, n})
	}
	slices.SortFunc(out, func(a, b errorCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return out
}
