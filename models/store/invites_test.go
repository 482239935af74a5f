package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"messenger/models"
	"messenger/models/store"
)

// An invitation is stored only as its hash, can be checked, and is spent by the registration it lets
// in: afterwards it reads as used; an expired or unknown one cannot be used at all.
func TestInviteLifecycle(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		token, err := s.CreateInvite(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, rawDB(t, s.URL()), `SELECT COUNT(*) FROM invites WHERE token_hash = ?`, token); n != 0 {
			t.Fatal("the invitation token is stored in clear")
		}
		if err := s.CheckInvite(ctx, token); err != nil {
			t.Fatalf("a new invitation: %v", err)
		}
		u := models.User{FirstName: "In", Username: "invited", Password: "hash"}
		if err := s.CreateUserWithInvite(ctx, &u, token); err != nil || u.UserID == 0 {
			t.Fatalf("register with the invitation: id %d, %v", u.UserID, err)
		}
		if err := s.CheckInvite(ctx, token); !errors.Is(err, store.ErrInviteUsed) {
			t.Fatalf("a spent invitation checks as %v, want ErrInviteUsed", err)
		}
		again := models.User{FirstName: "Twice", Username: "second", Password: "hash"}
		if err := s.CreateUserWithInvite(ctx, &again, token); !errors.Is(err, store.ErrInviteUsed) {
			t.Fatalf("a second registration with a spent invitation: %v, want ErrInviteUsed", err)
		}
		if _, err := s.UserByUsername(ctx, "second"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the refused registration left a user behind: %v", err)
		}

		expired, err := s.CreateInvite(ctx, -time.Second)
		if err != nil {
			t.Fatal(err)
		}
		late := models.User{FirstName: "Late", Username: "late", Password: "hash"}
		for what, err := range map[string]error{
			"check":    s.CheckInvite(ctx, expired),
			"register": s.CreateUserWithInvite(ctx, &late, expired),
		} {
			if !errors.Is(err, store.ErrInviteExpired) {
				t.Errorf("%s with an expired invitation: %v, want ErrInviteExpired", what, err)
			}
		}
		if err := s.CheckInvite(ctx, "not-a-token"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unknown token checks as %v, want ErrNotFound", err)
		}

		// A taken username leaves the invitation unspent.
		unspent, _ := s.CreateInvite(ctx, time.Hour)
		dup := models.User{FirstName: "Dup", Username: "INVITED", Password: "hash"}
		if err := s.CreateUserWithInvite(ctx, &dup, unspent); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a taken username with an invitation: %v, want ErrConflict", err)
		}
		if err := s.CheckInvite(ctx, unspent); err != nil {
			t.Fatalf("the invitation of a refused username was spent: %v", err)
		}
	})
}

// Ten registrations with one invitation at once: exactly one user is created.
func TestInviteSpentOnceUnderConcurrency(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		token, err := s.CreateInvite(t.Context(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				u := models.User{FirstName: "Racer", Username: fmt.Sprintf("racer%d", i), Password: "hash"}
				errs[i] = s.CreateUserWithInvite(t.Context(), &u, token)
			})
		}
		wg.Wait()
		created := 0
		for _, err := range errs {
			switch {
			case err == nil:
				created++
			case !errors.Is(err, store.ErrInviteUsed):
				t.Errorf("a losing registration failed with %v, want ErrInviteUsed", err)
			}
		}
		users := countRows(t, s, rawDB(t, s.URL()), `SELECT COUNT(*) FROM users`)
		if created != 1 || users != 1 {
			t.Fatalf("%d registrations succeeded and %d users exist with one invitation, want 1 and 1", created, users)
		}
	})
}

// Invitations long past their expiry are deleted; one still valid, or expired only recently (a late
// click is still told "expired"), stays.
func TestDeleteOldInvites(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		fresh, err := s.CreateInvite(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		recent, err := s.CreateInvite(ctx, -time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateInvite(ctx, -store.InviteKeep-time.Hour); err != nil {
			t.Fatal(err)
		}
		n, err := s.DeleteOldInvites(ctx)
		if err != nil || n != 1 {
			t.Fatalf("deleted %d, %v; want the one expired beyond InviteKeep", n, err)
		}
		if err := s.CheckInvite(ctx, fresh); err != nil {
			t.Fatalf("a valid invitation after the sweep: %v", err)
		}
		if err := s.CheckInvite(ctx, recent); !errors.Is(err, store.ErrInviteExpired) {
			t.Fatalf("a recently expired invitation after the sweep: %v, want ErrInviteExpired", err)
		}
	})
}
