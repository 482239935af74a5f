package handlers

import (
	"context"
	"testing"
	"time"

	"messenger/models"
)

// A signed-in request takes its user's row from memory only while it is fresh: a change made behind the
// instance's back (another instance, an administration command) shows once the copy is older than the
// bound, and a forgotten copy (a profile change announced) is read again at once.
func TestSignedInRowIsFreshWithinItsBound(t *testing.T) {
	ts := startServer(t, testOptions{})
	ts.signedUp("alice")
	ctx := context.Background()
	alice, err := ts.store.UserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	rename := func(first string) {
		t.Helper()
		if err := ts.store.UpdateProfile(ctx, alice.UserID, models.Profile{FirstName: first, LastName: "A"}); err != nil {
			t.Fatal(err)
		}
	}
	users := newUserCache()
	firstName := func(maxAge time.Duration) string {
		t.Helper()
		u, err := users.signedIn(ctx, ts.store, alice.UserID, maxAge)
		if err != nil {
			t.Fatal(err)
		}
		if u.Password != "" {
			t.Fatal("the cached row carries the password hash")
		}
		return u.FirstName
	}

	if got := firstName(time.Hour); got != "First alice" {
		t.Fatalf("first read: %q", got)
	}
	rename("Second")
	if got := firstName(time.Hour); got != "First alice" {
		t.Fatalf("within the bound: %q, want the copy (First alice)", got)
	}
	if got := firstName(0); got != "Second" {
		t.Fatalf("past the bound: %q, want the stored name", got)
	}
	rename("Third")
	users.forget(alice.UserID)
	if got := firstName(time.Hour); got != "Third" {
		t.Fatalf("after forget: %q, want the stored name", got)
	}

	until := time.Now().UTC().Add(time.Minute).Truncate(time.Second)
	users.active(alice.UserID, &until)
	if u, _ := users.signedIn(ctx, ts.store, alice.UserID, time.Hour); u.ActiveUntil == nil || !u.ActiveUntil.Equal(until) {
		t.Fatalf("active: the copy's online window is %v, want %v", u.ActiveUntil, until)
	}
	users.active(alice.UserID, nil)
	if u, _ := users.signedIn(ctx, ts.store, alice.UserID, time.Hour); u.ActiveUntil != nil {
		t.Fatalf("signed off: the copy's online window is %v, want none", u.ActiveUntil)
	}
}
