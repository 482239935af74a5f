package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestMute: muting is the signed-in user's alone, for a conversation with someone who exists, only by
// POST with the CSRF token; it is kept (the page and the users list say so after a reload), works as a
// plain form (post/redirect/get) and with htmx, and muted messages still count as unread.
func TestMute(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		alice, bob := ts.signedUp("alice"), ts.signedUp("bob")
		bobUser, err := ts.store.UserByUsername(t.Context(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		mark := func(muted bool) string {
			return fmt.Sprintf(`id="muted-%d" data-muted="%t"`, bobUser.UserID, muted)
		}
		aliceUser, err := ts.store.UserByUsername(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		mutedNow := func(want bool) {
			t.Helper()
			if set, err := ts.store.MutedPartners(t.Context(), aliceUser.UserID); err != nil || set[bobUser.UserID] != want {
				t.Fatalf("alice muted bob = %v (%v), want %v", set[bobUser.UserID], err, want)
			}
		}

		refused := []struct {
			name   string
			who    *browser
			method string
			path   string
			form   url.Values
			status int
		}{
			{"without the CSRF token", alice, http.MethodPost, "/chat/bob/mute", url.Values{}, http.StatusForbidden},
			{"signed out", ts.browser(), http.MethodPost, "/chat/bob/mute", url.Values{}, http.StatusForbidden},
			{"over GET", alice, http.MethodGet, "/chat/bob/mute", nil, http.StatusMethodNotAllowed},
			{"an unknown user", alice, http.MethodPost, "/chat/nobody/mute", url.Values{"_csrf": {alice.token("/")}}, http.StatusNotFound},
			{"oneself", alice, http.MethodPost, "/chat/alice/mute", url.Values{"_csrf": {alice.token("/")}}, http.StatusNotFound},
			{"an over-long name", alice, http.MethodPost, "/chat/" + strings.Repeat("x", 500) + "/mute", url.Values{"_csrf": {alice.token("/")}}, http.StatusNotFound},
		}
		for _, tc := range refused {
			if r := tc.who.do(tc.method, tc.path, tc.form, nil); r.status != tc.status {
				t.Errorf("mute %s: %d, want %d", tc.name, r.status, tc.status)
			}
			mutedNow(false)
		}

		// A plain form: post, redirect back, the page shows it muted, in the header and in the list.
		r := alice.post("/chat/bob", "/chat/bob/mute", url.Values{})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/chat/bob" {
			t.Fatalf("mute as a plain form: %d to %q, want 303 to /chat/bob", r.status, r.header.Get("Location"))
		}
		mutedNow(true)
		for _, path := range []string{"/chat/bob", "/"} {
			if page := alice.get(path).body; !strings.Contains(page, mark(true)) {
				t.Errorf("alice's %s does not mark bob muted (%s)", path, mark(true))
			}
		}
		if page := alice.get("/chat/bob").body; !strings.Contains(page, `action="/chat/bob/unmute"`) {
			t.Errorf("alice's conversation with bob offers no unmute")
		}
		// It is alice's alone: bob's side is not muted.
		if page := bob.get("/chat/alice").body; !strings.Contains(page, `action="/chat/alice/mute"`) {
			t.Errorf("bob's conversation with alice does not offer to mute: alice's mute leaked to bob")
		}
		// Muted messages still count as unread.
		if r := bob.send("alice", "while muted", ""); r.status != http.StatusSeeOther {
			t.Fatalf("bob sends: %d", r.status)
		}
		if n := unreadFor(t, ts, "alice"); n != 1 {
			t.Errorf("alice's unread from bob while muted = %d, want 1", n)
		}

		// htmx: the toggle and the list's mark come back in their new state.
		r = alice.htmx("/chat/bob", "/chat/bob/unmute", url.Values{})
		if r.status != http.StatusOK || !strings.Contains(r.body, `action="/chat/bob/mute"`) || !strings.Contains(r.body, mark(false)) {
			t.Fatalf("unmute with htmx: %d\n%s", r.status, r.body)
		}
		mutedNow(false)
		if page := alice.get("/").body; !strings.Contains(page, mark(false)) {
			t.Errorf("alice's list still marks bob muted after unmuting")
		}
	})
}
