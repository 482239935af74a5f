package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"messenger/handlers/session"
	"messenger/internal/syncbuf"
	"messenger/models/store/storetest"
)

const testPassword = "a long enough password" // what signedUp registers with

func (b *browser) signIn(username, password string) response {
	b.t.Helper()
	return b.post("/login", "/login", url.Values{"username": {username}, "password": {password}})
}

// signedInAgain is another browser signed in to an existing account: a second session of its user.
func (ts *testServer) signedInAgain(username string) *browser {
	ts.t.Helper()
	b := ts.browser()
	if r := b.signIn(username, testPassword); r.status != http.StatusSeeOther {
		ts.t.Fatalf("sign in %s again: %d", username, r.status)
	}
	return b
}

// htmx posts a form the way htmx does: the CSRF token in the header, HX-Request set.
func (b *browser) htmx(formPage, path string, form url.Values) response {
	b.t.Helper()
	return b.do(http.MethodPost, path, form, map[string]string{"X-CSRF-Token": b.token(formPage), "HX-Request": "true"})
}

func wantSignedOut(t *testing.T, what string, b *browser) {
	t.Helper()
	if r := b.get("/"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Fatalf("%s: GET / = %d to %q, want a redirect to /login", what, r.status, r.header.Get("Location"))
	}
}

func wantSignedIn(t *testing.T, what string, b *browser) {
	t.Helper()
	if r := b.get("/"); r.status != http.StatusOK {
		t.Fatalf("%s: GET / = %d, want the users list", what, r.status)
	}
}

// The settings page changes first name, last name and gender, validated like registration: a bad
// value is refused with 422 and a readable alert, the typed values stay in the form and nothing is
// stored; a good one is saved (post/redirect/get with a "Saved" note, or the section swapped by htmx).
func TestSettingsProfile(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		a, bob := ts.signedUp("alice"), ts.signedUp("bob")
		if r := a.get("/"); !strings.Contains(r.body, `href="/settings"`) {
			t.Fatal("the users list's header has no link to the settings")
		}
		if r := a.get("/settings"); r.status != http.StatusOK || !strings.Contains(r.body, `value="First alice"`) {
			t.Fatalf("GET /settings: %d; want the form with the stored first name", r.status)
		}
		bad := []struct {
			name  string
			form  url.Values
			field string
			kept  string
		}{
			{"empty first name", url.Values{"first_name": {"  "}, "last_name": {"Kept Last"}, "gender": {"1"}}, "first_name", `value="Kept Last"`},
			{"first name too long", url.Values{"first_name": {strings.Repeat("n", 65)}, "gender": {"1"}}, "first_name", `value="` + strings.Repeat("n", 65) + `"`},
			{"control character", url.Values{"first_name": {"Al\u0007ice"}, "last_name": {"Kept"}, "gender": {"0"}}, "first_name", `value="Kept"`},
			{"invalid UTF-8", url.Values{"first_name": {"Al\xffice"}, "last_name": {"Kept"}, "gender": {"0"}}, "first_name", `value="Kept"`},
			{"unknown gender", url.Values{"first_name": {"Kept First"}, "gender": {"7"}}, "gender", `value="Kept First"`},
			{"gender overflowing", url.Values{"first_name": {"Kept First"}, "gender": {"65536"}}, "gender", `value="Kept First"`},
		}
		for _, c := range bad {
			t.Run(c.name, func(t *testing.T) {
				for mode, r := range map[string]response{
					"plain": a.post("/settings", "/settings", c.form),
					"htmx":  a.htmx("/settings", "/settings", c.form),
				} {
					if r.status != http.StatusUnprocessableEntity || alertText(r.body) == "" || !strings.Contains(r.body, `id="`+c.field+`-error"`) || !strings.Contains(r.body, c.kept) {
						t.Fatalf("%s: %d, alert %q; want 422, an alert at %s and %s kept", mode, r.status, alertText(r.body), c.field, c.kept)
					}
				}
			})
		}
		u, err := ts.store.UserByUsername(t.Context(), "alice")
		if err != nil || u.FirstName != "First alice" || u.LastName != "Last" || u.Gender != 0 {
			t.Fatalf("refused settings changed the profile: %+v %v", u, err)
		}

		bobSock := bob.socket().ready()
		from := len(bobSock.snapshot())
		r := a.post("/settings", "/settings", url.Values{"first_name": {"  Alicia "}, "last_name": {"Keys"}, "gender": {"1"}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/settings?saved=profile" {
			t.Fatalf("save without JavaScript: %d to %q, want 303 to /settings?saved=profile", r.status, r.header.Get("Location"))
		}
		if r := a.get("/settings?saved=profile"); !strings.Contains(r.body, "data-saved") || !strings.Contains(r.body, `value="Alicia"`) {
			t.Fatal("after saving, the settings page shows no note or not the new name")
		}
		// One fragment for every page: each place that shows alice's name (list row, conversation header).
		bobSock.waitFor(from, fmt.Sprintf(`data-name="%d"`, u.UserID), `hx-swap-oob="outerHTML:[data-name=`, "Alicia Keys")
		if r := bob.get("/"); !strings.Contains(r.body, "Alicia Keys") {
			t.Fatal("bob's users list does not show alice's new name")
		}
		r = a.htmx("/settings", "/settings", url.Values{"first_name": {"Ali"}, "last_name": {""}, "gender": {"3"}})
		if r.status != http.StatusOK || !strings.Contains(r.body, `id="settings-profile"`) || !strings.Contains(r.body, "data-saved") || strings.Contains(r.body, "<html") {
			t.Fatalf("save with htmx: %d; want the profile section with its note, not a page:\n%s", r.status, r.body)
		}
		if u, _ := ts.store.UserByUsername(t.Context(), "alice"); u.FirstName != "Ali" || u.LastName != "" || u.Gender != 3 {
			t.Fatalf("the htmx save stored %+v", u)
		}
	})
}

// Changing the password needs the current one and a new one that registration would accept. Success
// keeps this session, signs out every other session of the user (their sockets close with 1008), and
// only the new password signs in afterwards.
func TestChangePassword(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		a := ts.signedUp("alice")
		other := ts.signedInAgain("alice")
		bob := ts.signedUp("bob")
		mySock, otherSock, bobSock := a.socket().ready(), other.socket().ready(), bob.socket().ready()

		const newPassword = "a brand new pass phrase"
		refused := []struct {
			name, current, next, field string
		}{
			{"wrong current", "not my password", newPassword, "current_password"},
			{"no current", "", newPassword, "current_password"},
			{"new too short", testPassword, "short", "new_password"},
			{"new too common", testPassword, "password1", "new_password"},
			{"new is the username", testPassword, "alice", "new_password"},
		}
		for _, c := range refused {
			r := a.post("/settings", "/settings/password", url.Values{"current_password": {c.current}, "new_password": {c.next}})
			if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="`+c.field+`-error"`) || alertText(r.body) == "" {
				t.Fatalf("%s: %d, alert %q; want 422 with an alert at %s", c.name, r.status, alertText(r.body), c.field)
			}
			if strings.Contains(r.body, c.current) && c.current != "" || strings.Contains(r.body, `value="`+c.next+`"`) {
				t.Fatalf("%s: a password was sent back into the page", c.name)
			}
		}
		wantSignedIn(t, "the other session after refused changes", other)

		r := a.post("/settings", "/settings/password", url.Values{"current_password": {testPassword}, "new_password": {newPassword}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/settings?saved=password" {
			t.Fatalf("change the password: %d to %q", r.status, r.header.Get("Location"))
		}
		if code := otherSock.closeCode(); code != websocket.ClosePolicyViolation {
			t.Fatalf("the other session's socket closed with %d, want 1008", code)
		}
		wantSignedOut(t, "the other session after the change", other)
		wantSignedIn(t, "this session after the change", a)
		mySock.ready()
		bobSock.ready()
		if r := a.get("/settings?saved=password"); !strings.Contains(r.body, "data-saved") || !strings.Contains(r.body, `data-other-sessions="0"`) {
			t.Fatal("the settings page does not confirm the change or still counts other sessions")
		}
		if r := ts.browser().signIn("alice", testPassword); r.status != http.StatusUnauthorized {
			t.Fatalf("the old password signs in: %d", r.status)
		}
		if r := ts.browser().signIn("alice", newPassword); r.status != http.StatusSeeOther {
			t.Fatalf("the new password does not sign in: %d", r.status)
		}
		r = a.htmx("/settings", "/settings/password", url.Values{"current_password": {newPassword}, "new_password": {testPassword}})
		if r.status != http.StatusOK || !strings.Contains(r.body, `id="settings-password"`) || !strings.Contains(r.body, "data-saved") {
			t.Fatalf("change with htmx: %d; want the password section with its note", r.status)
		}
	})
}

// A wrong current password counts as a failed sign-in of the account: guessing it from a stolen
// session is throttled like guessing at the login form, and logged in the line fail2ban reads.
func TestWrongCurrentPasswordIsThrottled(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := startServer(t, testOptions{loginLimit: 3, log: logs})
	a := ts.signedUp("alice")
	for i := range 3 {
		if r := a.post("/settings", "/settings/password", url.Values{"current_password": {"guess " + string(rune('a'+i))}, "new_password": {"a brand new pass phrase"}}); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("guess %d: %d, want 422", i, r.status)
		}
	}
	if log := logs.String(); !strings.Contains(log, `level=WARN msg="sign-in failed" client=127.0.0.1 username=alice`) || strings.Contains(log, "guess a") {
		t.Fatalf("no fail2ban line for a wrong current password, or the guess is in the log:\n%s", log)
	}
	r := a.post("/settings", "/settings/password", url.Values{"current_password": {testPassword}, "new_password": {"a brand new pass phrase"}})
	if r.status != http.StatusTooManyRequests || alertText(r.body) == "" {
		t.Fatalf("after 3 wrong guesses: %d, alert %q; want 429 with an alert", r.status, alertText(r.body))
	}
	if r := ts.browser().signIn("alice", testPassword); r.status != http.StatusTooManyRequests {
		t.Fatalf("sign-in after 3 wrong current passwords: %d, want 429 (same account's budget)", r.status)
	}
}

// "Sign out everywhere else" ends every other session of the user (cookies anonymous, sockets closed
// with 1008) and keeps this one; the page counts the other sessions before and after.
func TestEndOtherSessions(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		a := ts.signedUp("alice")
		phone, laptop := ts.signedInAgain("alice"), ts.signedInAgain("alice")
		bob := ts.signedUp("bob")
		phoneSock, laptopSock, mySock := phone.socket().ready(), laptop.socket().ready(), a.socket().ready()
		if r := a.get("/settings"); !strings.Contains(r.body, `data-other-sessions="2"`) {
			t.Fatal("the settings page does not count 2 other sessions")
		}
		r := a.post("/settings", "/settings/sessions/end-others", url.Values{})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/settings?saved=sessions" {
			t.Fatalf("sign out everywhere else: %d to %q", r.status, r.header.Get("Location"))
		}
		for name, s := range map[string]*liveSocket{"phone": phoneSock, "laptop": laptopSock} {
			if code := s.closeCode(); code != websocket.ClosePolicyViolation {
				t.Fatalf("the %s's socket closed with %d, want 1008", name, code)
			}
		}
		wantSignedOut(t, "the phone", phone)
		wantSignedOut(t, "the laptop", laptop)
		wantSignedIn(t, "this session", a)
		wantSignedIn(t, "another user", bob)
		mySock.ready()
		if r := a.get("/settings?saved=sessions"); !strings.Contains(r.body, "data-saved") || !strings.Contains(r.body, `data-other-sessions="0"`) {
			t.Fatal("after signing out everywhere else the page does not say so or still counts other sessions")
		}
		again := ts.signedInAgain("alice")
		r = a.htmx("/settings", "/settings/sessions/end-others", url.Values{})
		if r.status != http.StatusOK || !strings.Contains(r.body, `id="settings-sessions"`) || !strings.Contains(r.body, "data-saved") {
			t.Fatalf("with htmx: %d; want the sessions section with its note", r.status)
		}
		wantSignedOut(t, "a session ended through htmx", again)
	})
}

// Two instances share one PostgreSQL: a password changed through one signs out the user's session on
// the other at once, although that instance holds it warm in its cache, and closes its socket there.
func TestPasswordChangeEndsSessionsOnEveryInstance(t *testing.T) {
	opts := testOptions{databaseURL: storetest.PostgresURL(t), pgBroker: true, timeouts: session.Timeouts{Cache: time.Hour}}
	one, two := startServer(t, opts), startServer(t, opts)
	a := one.signedUp("alice")
	elsewhere := two.signedInAgain("alice")
	sock := elsewhere.socket().ready()
	wantSignedIn(t, "alice on instance two (warming its cache)", elsewhere)
	r := a.post("/settings", "/settings/password", url.Values{"current_password": {testPassword}, "new_password": {"a brand new pass phrase"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("change the password on instance one: %d %s", r.status, alertText(r.body))
	}
	if code := sock.closeCode(); code != websocket.ClosePolicyViolation {
		t.Fatalf("the socket on instance two closed with %d, want 1008", code)
	}
	wantSignedOut(t, "the session on instance two", elsewhere)
	wantSignedIn(t, "the session that changed the password", a)
}
