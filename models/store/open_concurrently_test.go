package store_test

import (
	"io"
	"log/slog"
	"sync"
	"testing"

	"messenger/models/store"
	"messenger/models/store/storetest"
)

// TestOpenConcurrently starts several instances at once on a fresh database: all must come up.
func TestOpenConcurrently(t *testing.T) {
	const rounds, instances = 2, 3
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			for round := range rounds {
				url := storetest.URL(t, dialect)
				var wg sync.WaitGroup
				for i := range instances {
					wg.Go(func() {
						s, err := store.Open(t.Context(), url, quiet)
						if err != nil {
							t.Errorf("round %d, instance %d: %v", round, i, err)
							return
						}
						s.Close()
					})
				}
				wg.Wait()
			}
		})
	}
}
