package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func newcomerForm(username, password, invite string) url.Values {
	f := url.Values{"first_name": {"New"}, "last_name": {"Comer"}, "gender": {"1"}, "username": {username}, "password": {password}}
	if invite != "" {
		f.Set("invite", invite)
	}
	return f
}

// registerAt posts the registration form with the CSRF token of the page at formPage (the login page
// where the registration page is refused).
func (b *browser) registerAt(formPage, username, password, invite string) response {
	b.t.Helper()
	return b.post(formPage, "/register", newcomerForm(username, password, invite))
}

// wantRefused fails unless r is a 403 whose alert says says.
func wantRefused(t *testing.T, what string, r response, says string) {
	t.Helper()
	if r.status != http.StatusForbidden || !strings.Contains(alertText(r.body), says) {
		t.Fatalf("%s: %d, alert %q; want 403 saying %q", what, r.status, alertText(r.body), says)
	}
}

func mustInvite(t *testing.T, ts *testServer, ttl time.Duration) string {
	t.Helper()
	tok, err := ts.store.CreateInvite(t.Context(), ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// REGISTRATION=open: anyone registers, and the login page offers it.
func TestRegistrationOpen(t *testing.T) {
	ts := startServer(t, testOptions{registration: RegistrationOpen})
	if r := ts.browser().get("/login"); !strings.Contains(r.body, `href="/register"`) {
		t.Fatal("the login page of an open Messenger does not link to registration")
	}
	if r := ts.browser().registerAt("/register", "opener", "a long enough password", ""); r.status != http.StatusSeeOther {
		t.Fatalf("open registration: %d %s", r.status, alertText(r.body))
	}
}

// REGISTRATION=closed: the registration page and form say so with 403, nothing is stored, and the login
// page does not offer to create an account.
func TestRegistrationClosed(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect, registration: RegistrationClosed})
		b := ts.browser()
		login := b.get("/login")
		if login.status != http.StatusOK || strings.Contains(login.body, `href="/register"`) {
			t.Fatalf("login page of a closed Messenger: %d, links to registration: %v", login.status, strings.Contains(login.body, `href="/register"`))
		}
		wantRefused(t, "GET /register when closed", b.get("/register"), "closed")
		wantRefused(t, "POST /register when closed", b.registerAt("/login", "closer", "a long enough password", ""), "closed")
		if n := userCount(t, ts); n != 0 {
			t.Fatalf("%d users after a closed registration", n)
		}
	})
}

// REGISTRATION=invite: only a valid invitation opens the form; the form carries it, registration spends
// it; a missing, garbled, spent or expired one is refused with 403 and words that say which.
func TestRegistrationByInvite(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect, registration: RegistrationInvite})
		if r := ts.browser().get("/login"); strings.Contains(r.body, `href="/register"`) || !strings.Contains(r.body, "invitation") {
			t.Fatal("the login page of an invitation-only Messenger should mention invitations, not link to registration")
		}
		valid := mustInvite(t, ts, time.Hour)
		expired := mustInvite(t, ts, -time.Second)

		refused := []struct{ name, invite, says string }{
			{"missing", "", "invitation only"},
			{"garbage", "not-a-real-token", "not valid"},
			{"garbage with markup", "<script>x</script>", "not valid"},
			{"expired", expired, "expired"},
		}
		for _, c := range refused {
			t.Run(c.name, func(t *testing.T) {
				b := ts.browser()
				wantRefused(t, "GET", b.get("/register?invite="+url.QueryEscape(c.invite)), c.says)
				wantRefused(t, "POST", b.registerAt("/login", "guest", "a long enough password", c.invite), c.says)
			})
		}
		if n := userCount(t, ts); n != 0 {
			t.Fatalf("%d users after refused registrations", n)
		}

		b := ts.browser()
		page := b.get("/register?invite=" + url.QueryEscape(valid))
		if page.status != http.StatusOK || !strings.Contains(page.body, `name="invite" value="`+valid+`"`) {
			t.Fatalf("GET with a valid invitation: %d; the form must carry the token", page.status)
		}
		// A mistake in the form keeps the invitation in it and leaves it unspent.
		weak := b.registerAt("/register?invite="+valid, "invited", "password", valid)
		if weak.status != http.StatusUnprocessableEntity || !strings.Contains(weak.body, `name="invite" value="`+valid+`"`) {
			t.Fatalf("a weak password with an invitation: %d; the form must come back with the token", weak.status)
		}
		if r := b.registerAt("/register?invite="+valid, "invited", "a long enough password", valid); r.status != http.StatusSeeOther {
			t.Fatalf("register with a valid invitation: %d %s", r.status, alertText(r.body))
		}
		if r := b.get("/"); r.status != http.StatusOK {
			t.Fatalf("the invited user is not signed in: %d", r.status)
		}
		again := ts.browser()
		wantRefused(t, "GET with a spent invitation", again.get("/register?invite="+url.QueryEscape(valid)), "already been used")
		wantRefused(t, "POST with a spent invitation", again.registerAt("/login", "second", "a long enough password", valid), "already been used")
		if n := userCount(t, ts); n != 1 {
			t.Fatalf("%d users, want the one invited", n)
		}
	})
}

// Ten people register at once with one invitation link: exactly one account is created, the others are
// told the invitation was used.
func TestParallelRegistrationsWithOneInvite(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect, registration: RegistrationInvite})
		tok := mustInvite(t, ts, time.Hour)
		const n = 10
		browsers := make([]*browser, n)
		forms := make([]url.Values, n)
		for i := range browsers {
			browsers[i] = ts.browser()
			forms[i] = newcomerForm(fmt.Sprintf("racer%d", i), fmt.Sprintf("racing password %d", i), tok)
			forms[i].Set("_csrf", browsers[i].token("/register?invite="+tok))
		}
		statuses, count := postAtOnce("/register", browsers, forms)
		created, refused := count[http.StatusSeeOther], count[http.StatusForbidden]
		if rows := userCount(t, ts); created != 1 || refused != n-1 || rows != 1 {
			t.Fatalf("one invitation, %d registrations at once: created %d, refused %d, users %d (statuses %v)", n, created, refused, rows, statuses)
		}
	})
}
