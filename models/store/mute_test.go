package store_test

import (
	"maps"
	"testing"

	"messenger/models/store"
)

// TestMutes: a mute is one user's, kept, idempotent both ways, and gone with an unmute.
func TestMutes(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice, bob, carol := createUser(t, s, "alice"), createUser(t, s, "bob"), createUser(t, s, "carol")
		muted := func(who int64, want map[int64]bool) {
			t.Helper()
			got, err := s.MutedPartners(ctx, who)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, want) {
				t.Fatalf("muted partners of %d = %v, want %v", who, got, want)
			}
		}
		for range 2 {
			if err := s.SetMuted(ctx, alice.UserID, bob.UserID, true); err != nil {
				t.Fatalf("mute: %v", err)
			}
		}
		if err := s.SetMuted(ctx, alice.UserID, carol.UserID, true); err != nil {
			t.Fatalf("mute: %v", err)
		}
		muted(alice.UserID, map[int64]bool{bob.UserID: true, carol.UserID: true})
		muted(bob.UserID, map[int64]bool{})
		for range 2 {
			if err := s.SetMuted(ctx, alice.UserID, carol.UserID, false); err != nil {
				t.Fatalf("unmute: %v", err)
			}
		}
		muted(alice.UserID, map[int64]bool{bob.UserID: true})
	})
}
