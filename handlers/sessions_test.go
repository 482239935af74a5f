package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gorilla/securecookie"

	"messenger/handlers/session"
	"messenger/models/store/storetest"
)

// Anonymous visitors carry their CSRF token in a signed cookie: no row until sign-in, and sign-in
// still works with the token from the form (no JavaScript) and from the htmx header.
func TestAnonymousVisitorsWriteNoSessionRow(t *testing.T) {
	ts := startServer(t, testOptions{})
	ts.signedUp("owner")
	before := ts.countRows("sessions")
	for i := 0; i < 100; i++ {
		b := ts.browser()
		if r := b.get("/login"); r.status != http.StatusOK || len(r.header.Values("Set-Cookie")) != 1 {
			t.Fatalf("GET /login: %d, cookies %q", r.status, r.header.Values("Set-Cookie"))
		}
	}
	if r := ts.browser().get("/register"); r.status != http.StatusOK {
		t.Fatalf("GET /register: %d", r.status)
	}
	if after := ts.countRows("sessions"); after != before {
		t.Fatalf("cookie-less GETs of /login wrote sessions: %d rows, was %d", after, before)
	}
	creds := url.Values{"username": {"owner"}, "password": {"a long enough password"}}
	if r := ts.browser().post("/login", "/login", creds); r.status != http.StatusSeeOther {
		t.Fatalf("login with the form's token: %d", r.status)
	}
	js := ts.browser()
	tok := js.token("/login")
	if r := js.do(http.MethodPost, "/login", creds, map[string]string{session.CSRFHeader: tok, "HX-Request": "true"}); r.status != http.StatusSeeOther && r.status != http.StatusOK {
		t.Fatalf("login with the htmx header: %d", r.status)
	}
	if r := js.get("/"); r.status != http.StatusOK {
		t.Fatalf("after login with the header, / = %d", r.status)
	}
	if r := ts.browser().do(http.MethodPost, "/login", creds, nil); r.status != http.StatusForbidden {
		t.Fatalf("login without a token: %d", r.status)
	}
	if after := ts.countRows("sessions"); after != before+2 {
		t.Fatalf("%d session rows after two sign-ins, want %d", after, before+2)
	}
}

// Finding 5: a request that began before logout and ends after it re-creates nothing; the old cookie
// stays anonymous.
func TestRequestInFlightCannotUndoLogout(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	ts := startServer(t, testOptions{
		timeouts: session.Timeouts{Refresh: time.Nanosecond}, // every request rewrites its session
		routes: func(app *fiber.App, srv *Server) {
			app.Get("/test/slow", srv.requireUser, func(c *fiber.Ctx) error {
				close(started)
				<-release
				return c.SendString("slow done")
			})
		},
	})
	b := ts.signedUp("alice")
	base, _ := url.Parse(ts.url)
	old := b.client.Jar.Cookies(base)
	slow := ts.browser()
	slow.client.Jar.SetCookies(base, old)
	done := make(chan response)
	go func() { done <- slow.get("/test/slow") }()
	<-started
	if r := b.post("/", "/logout", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	close(release)
	r := <-done
	if r.status != http.StatusOK || !strings.Contains(r.body, "slow done") {
		t.Fatalf("the request in flight: %d %q", r.status, r.body)
	}
	if c := r.header.Values("Set-Cookie"); len(c) != 0 {
		t.Fatalf("the request in flight re-issued a cookie: %q", c)
	}
	replay := ts.browser()
	replay.client.Jar.SetCookies(base, old)
	if r := replay.get("/"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Fatalf("the logged-out cookie works again after the slow request: %d", r.status)
	}
	if n := ts.countRows("sessions"); n != 0 {
		t.Fatalf("%d session rows after logout, want 0", n)
	}
}

// A GET of a conversation from a link on another site leaves it unread; a plain one reads it.
func TestCrossSiteNavigationDoesNotMarkRead(t *testing.T) {
	ts := startServer(t, testOptions{})
	a, b := ts.signedUp("alice"), ts.signedUp("bob")
	if r := a.send("bob", "unread until bob looks", "c-1"); r.status != http.StatusSeeOther {
		t.Fatalf("send: %d", r.status)
	}
	bob, err := ts.store.UserByUsername(t.Context(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if r := b.do(http.MethodGet, "/chat/alice", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}); r.status != http.StatusOK {
		t.Fatalf("cross-site GET: %d", r.status)
	}
	if n, err := ts.store.UnreadCount(t.Context(), bob.UserID); err != nil || n != 1 {
		t.Fatalf("after a cross-site GET bob has %d unread (%v), want 1", n, err)
	}
	if r := b.get("/chat/alice"); r.status != http.StatusOK {
		t.Fatalf("GET: %d", r.status)
	}
	if n, err := ts.store.UnreadCount(t.Context(), bob.UserID); err != nil || n != 0 {
		t.Fatalf("after a plain GET bob has %d unread (%v), want 0", n, err)
	}
}

// A socket closes with 1008 at its session's absolute expiry, and the cookie no longer opens one.
func TestSocketClosesAtAbsoluteExpiry(t *testing.T) {
	ts := startServer(t, testOptions{timeouts: session.Timeouts{Absolute: 3 * time.Second}})
	a := ts.signedUp("alice")
	sock := a.socket()
	if code := sock.closeCode(); code != 1008 {
		t.Fatalf("socket at the session's absolute expiry closed with %d, want 1008", code)
	}
	if _, resp, err := a.dialWS(nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("upgrade with an expired session: %v", err)
	}
}

// Issue 7: a signed-in session is served from a cache of a few seconds, and logout evicts it at once on
// every instance: on two instances sharing one PostgreSQL, the cookie is anonymous on both after logout
// although both caches were warm.
func TestLogoutEvictsTheWarmSessionCacheOnEveryInstance(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	opts := testOptions{databaseURL: dbURL, pgBroker: true, timeouts: session.Timeouts{Cache: time.Hour}}
	one, two := startServer(t, opts), startServer(t, opts)
	a := one.signedUp("alice")
	base, _ := url.Parse(one.url)
	onTwo := two.browser()
	onTwo.client.Jar.SetCookies(base, a.client.Jar.Cookies(base))
	sockOnTwo := onTwo.socket().ready()
	for _, b := range []*browser{a, onTwo} {
		if r := b.get("/"); r.status != http.StatusOK {
			t.Fatalf("signed in: %d", r.status)
		}
	}
	tok := a.token("/")
	// The row goes without an announcement: both instances still serve the session from memory.
	alice, _ := one.store.UserByUsername(t.Context(), "alice")
	if _, err := one.store.DeleteUserSessions(t.Context(), alice.UserID, ""); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*browser{a, onTwo} {
		if r := b.get("/"); r.status != http.StatusOK {
			t.Fatalf("the cache is not warm: %d", r.status)
		}
	}
	if r := a.do(http.MethodPost, "/logout", url.Values{"_csrf": {tok}}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	replay := one.browser()
	replay.client.Jar.SetCookies(base, onTwo.client.Jar.Cookies(base))
	if r := replay.get("/"); r.status != http.StatusSeeOther {
		t.Fatalf("instance one serves the logged-out cookie: %d", r.status)
	}
	if code := sockOnTwo.closeCode(); code != 1008 {
		t.Fatalf("socket on instance two closed with %d, want 1008", code)
	}
	if r := onTwo.get("/"); r.status != http.StatusSeeOther {
		t.Fatalf("instance two serves the logged-out cookie: %d", r.status)
	}
}

// The database holds the SHA-256 of a session's id, never the id the cookie carries.
func TestSessionStoredUnderItsHash(t *testing.T) {
	ts := startServer(t, testOptions{})
	a := ts.signedUp("alice")
	base, _ := url.Parse(ts.url)
	codec := securecookie.New([]byte("0123456789abcdef0123456789abcdef"), nil)
	codec.SetSerializer(securecookie.JSONEncoder{})
	var v struct {
		ID string `json:"i"`
	}
	if err := codec.Decode(session.CookieName, a.client.Jar.Cookies(base)[0].Value, &v); err != nil || v.ID == "" {
		t.Fatalf("decode cookie: %v %q", err, v.ID)
	}
	if _, err := ts.store.SessionByHash(t.Context(), v.ID); err == nil {
		t.Fatal("the session is stored under its clear id")
	}
	if _, err := ts.store.SessionByHash(t.Context(), session.Hash(v.ID)); err != nil {
		t.Fatalf("no session under the id's hash: %v", err)
	}
}

// A session that expires while idle is swept, and the sweep closes its sockets with 1008.
func TestSweptSessionClosesItsSockets(t *testing.T) {
	ts := startServer(t, testOptions{timeouts: session.Timeouts{Idle: 3 * time.Second, Refresh: time.Hour}, sweep: 100 * time.Millisecond})
	a := ts.signedUp("alice")
	sock := a.socket()
	if code := sock.closeCode(); code != 1008 {
		t.Fatalf("socket of a swept session closed with %d, want 1008", code)
	}
}
