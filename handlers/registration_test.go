package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"messenger/models"
)

// Look-alike usernames (the same UTS #39 skeleton) are refused like duplicates.
func TestRegisterRefusesLookAlikeUsername(t *testing.T) {
	ts := startServer(t, testOptions{})
	ts.signedUp("alice")
	r := ts.browser().register("\u0430lice", "a long enough password") // Cyrillic а
	if r.status != http.StatusConflict || alertText(r.body) == "" {
		t.Fatalf("look-alike of alice: status %d, alert %q; want 409 with an alert", r.status, alertText(r.body))
	}
	if n := userCount(t, ts); n != 1 {
		t.Fatalf("%d users stored, want 1", n)
	}
}

// Twenty different look-alikes of one name registered at once: exactly one row, the rest 409.
func TestConcurrentLookAlikeRegistrations(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		// Each of a, l, i, c, e replaced or not by its Cyrillic twin: distinct names, one skeleton.
		twins := [][2]string{{"a", "\u0430"}, {"l", "\u04cf"}, {"i", "\u0456"}, {"c", "\u0441"}, {"e", "\u0435"}}
		const n = 20
		names := make([]string, n)
		for i := range names {
			for bit, tw := range twins {
				names[i] += tw[i>>bit&1]
			}
			if models.UsernameSkeleton(names[i]) != models.UsernameSkeleton("alice") {
				t.Fatalf("%q does not share alice's skeleton", names[i])
			}
		}
		forms := make([]url.Values, n)
		browsers := make([]*browser, n)
		for i := range browsers {
			browsers[i] = ts.browser()
			forms[i] = url.Values{"first_name": {"Twin"}, "gender": {"0"}, "username": {names[i]},
				"password": {fmt.Sprintf("password number %d", i)}, "_csrf": {browsers[i].token("/register")}}
		}
		statuses, count := postAtOnce("/register", browsers, forms)
		created, conflicts := count[http.StatusSeeOther], count[http.StatusConflict]
		if rows := userCount(t, ts); created != 1 || conflicts != n-1 || rows != 1 {
			t.Fatalf("created %d, conflicts %d, rows %d, statuses %v", created, conflicts, rows, statuses)
		}
	})
}

// userCount is how many users the database holds (everyone is another user of id 0).
func userCount(t *testing.T, ts *testServer) int {
	t.Helper()
	all, err := ts.store.Contacts(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}
