package store_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"messenger/models/store"
)

// Parallel hits on one key each get their own count (1…n, none twice): a limit checked against it
// lets exactly its number of attempts through, however many arrive together.
func TestThrottleHitIsAtomic(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		const n = 40
		counts := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				counts[i], _, errs[i] = s.ThrottleHit(t.Context(), "login\x00victim", time.Hour)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(counts)
		for i, c := range counts {
			if c != i+1 {
				t.Fatalf("counts %v, want 1…%d each once", counts, n)
			}
		}
	})
}

// A window ends at reset_at: the next hit starts a new one at 1, the sweeper deletes only ended rows,
// undo takes one hit back and forget deletes the count; every key is a fixed-size hash.
func TestThrottleWindows(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		db := rawDB(t, s.URL())
		before := time.Now().UTC().Truncate(time.Microsecond) // what PostgreSQL keeps of the window's end
		hits, reset, err := s.ThrottleHit(ctx, "old", 15*time.Minute)
		if err != nil || hits != 1 {
			t.Fatalf("first hit: %d, %v", hits, err)
		}
		if reset.Before(before.Add(15*time.Minute)) || reset.After(time.Now().Add(15*time.Minute)) {
			t.Fatalf("window ends %v, want 15 minutes after %v", reset, before)
		}
		if hits, again, err := s.ThrottleHit(ctx, "old", 15*time.Minute); err != nil || hits != 2 || !again.Equal(reset) {
			t.Fatalf("second hit: %d ending %v (first ended %v), %v", hits, again, reset, err)
		}
		exec(t, s, db, `UPDATE throttle SET reset_at = ?`, time.Now().UTC().Add(-time.Second))
		if hits, again, err := s.ThrottleHit(ctx, "old", 15*time.Minute); err != nil || hits != 1 || !again.After(reset) {
			t.Fatalf("hit after the window ended: %d ending %v, %v; want 1 in a new window", hits, again, err)
		}
		exec(t, s, db, `UPDATE throttle SET reset_at = ?`, time.Now().UTC().Add(-time.Second))

		long := strings.Repeat("x", 60*1024)
		for range 3 {
			if _, _, err := s.ThrottleHit(ctx, long, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.ThrottleUndo(ctx, long); err != nil {
			t.Fatal(err)
		}
		if hits, _, err := s.ThrottleHit(ctx, long, time.Hour); err != nil || hits != 3 {
			t.Fatalf("hit after 3 hits and an undo: %d, %v; want 3", hits, err)
		}
		if n := countRows(t, s, db, `SELECT COUNT(*) FROM throttle WHERE LENGTH(key_hash) <> 64`); n != 0 {
			t.Fatalf("%d keys are not a 64-digit hash", n)
		}

		deleted, err := s.DeleteExpiredThrottles(ctx)
		if err != nil || deleted != 1 {
			t.Fatalf("sweep deleted %d, %v; want the one ended window", deleted, err)
		}
		if n := countRows(t, s, db, `SELECT COUNT(*) FROM throttle`); n != 1 {
			t.Fatalf("%d rows after the sweep, want the live one", n)
		}
		if err := s.ThrottleForget(ctx, long); err != nil {
			t.Fatal(err)
		}
		if hits, _, err := s.ThrottleHit(ctx, long, time.Hour); err != nil || hits != 1 {
			t.Fatalf("hit after forget: %d, %v; want 1", hits, err)
		}
	})
}
