package handlers

import (
	"context"
	"testing"
	"time"
)

// TestOnlineWithoutSocketIsOneMinute: someone whose browser made a request but opened no socket (no
// JavaScript, or a page already closed) counts as online for a minute after it, not longer.
func TestOnlineWithoutSocketIsOneMinute(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		bob := ts.signedUp("bob")
		for _, path := range []string{"", "/"} { // registering, then a page
			if path != "" {
				bob.get(path)
			}
			u, err := ts.store.UserByUsername(context.Background(), "bob")
			if err != nil {
				t.Fatal(err)
			}
			if u.ActiveUntil == nil || time.Until(*u.ActiveUntil) > time.Minute {
				t.Fatalf("after %q bob counts as online until %v, more than a minute from now (%v)", path, u.ActiveUntil, time.Now().UTC())
			}
		}
	})
}
