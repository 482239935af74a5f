package handlers

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"messenger/internal/syncbuf"
)

// loginFrom posts the sign-in form as a browser whose requests carry headers (a proxy's
// X-Forwarded-For, a forged one).
func (b *browser) loginFrom(headers map[string]string, username, password string) response {
	b.t.Helper()
	form := url.Values{"_csrf": {b.token("/login")}, "username": {username}, "password": {password}}
	return b.do(http.MethodPost, "/login", form, headers)
}

func forwardedFor(addrs string) map[string]string {
	return map[string]string{"X-Forwarded-For": addrs}
}

// assertTooMany checks a refusal over a limit: 429, a Retry-After of whole seconds within the window,
// and a readable alert.
func assertTooMany(t *testing.T, r response, window time.Duration, alert string) {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429\n%s", r.status, r.body)
	}
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > int(window.Seconds()) {
		t.Fatalf("Retry-After %q, want whole seconds in 1…%d", r.header.Get("Retry-After"), int(window.Seconds()))
	}
	if !strings.Contains(alertText(r.body), alert) {
		t.Fatalf("alert %q, want it to say %q", alertText(r.body), alert)
	}
}

// Finding 2: a 60 KB username (or an over-long password) is refused with 422 before anything is
// counted or hashed, so a thousand of them leave no row behind; and names that could exist, sprayed
// from one address, stop adding rows at that address's bound.
func TestLoginOverlongInputKeepsNothing(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect, loginLimit: 2})
		b := ts.browser()
		tok := b.token("/login")
		huge := strings.Repeat("u", 60*1024)
		for i := range 1000 {
			r := b.do(http.MethodPost, "/login", url.Values{"_csrf": {tok}, "username": {huge + strconv.Itoa(i)}, "password": {"a guess"}}, nil)
			if r.status != http.StatusUnprocessableEntity || !strings.Contains(alertText(r.body), "at most 32 characters") {
				t.Fatalf("attempt %d: status %d, alert %q", i, r.status, alertText(r.body))
			}
			if i == 0 && !strings.Contains(r.body, `value="`+huge) {
				t.Fatal("the typed username is not kept in the form")
			}
		}
		r := b.do(http.MethodPost, "/login", url.Values{"_csrf": {tok}, "username": {"someone"}, "password": {strings.Repeat("p", 129)}}, nil)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(alertText(r.body), "at most 128 characters") {
			t.Fatalf("over-long password: status %d, alert %q", r.status, alertText(r.body))
		}
		if n := ts.countRows("throttle"); n != 0 {
			t.Fatalf("%d throttle rows after refused input, want 0", n)
		}

		// loginLimit 2 bounds an address at 20 failures: 20 account rows and the address's own.
		for i := range 60 {
			r := b.do(http.MethodPost, "/login", url.Values{"_csrf": {tok}, "username": {fmt.Sprintf("name%d", i)}, "password": {"a guess"}}, nil)
			if want := http.StatusUnauthorized; i >= 20 {
				assertTooMany(t, r, loginWindow, "Too many")
			} else if r.status != want {
				t.Fatalf("attempt %d: status %d, want %d", i, r.status, want)
			}
		}
		if n := ts.countRows("throttle"); n != 21 {
			t.Fatalf("%d throttle rows after 60 names sprayed, want 21", n)
		}
	})
}

// Finding 3: 40 parallel wrong passwords for one account are counted before any is hashed: at most
// the limit are checked (401), the rest refused (429).
func TestLoginParallelGuessesCountedBeforeHashing(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		ts.signedUp("victim")
		const n = 40
		forms := make([]url.Values, n)
		browsers := make([]*browser, n)
		for i := range n {
			browsers[i] = ts.browser()
			forms[i] = url.Values{"_csrf": {browsers[i].token("/login")}, "username": {"victim"}, "password": {fmt.Sprintf("guess number %d", i)}}
		}
		results := make([]response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = browsers[i].do(http.MethodPost, "/login", forms[i], nil)
			}()
		}
		wg.Wait()
		checked := 0
		for i, r := range results {
			switch r.status {
			case http.StatusUnauthorized:
				checked++
			case http.StatusTooManyRequests:
				assertTooMany(t, r, loginWindow, "Too many")
			default:
				t.Fatalf("attempt %d: status %d", i, r.status)
			}
		}
		if checked != defaultLoginLimit {
			t.Fatalf("%d of %d parallel guesses were checked, want the limit %d", checked, n, defaultLoginLimit)
		}
	})
}

// Finding 4: behind a trusted proxy each client is known by its own address (the rightmost one the
// proxy did not add itself): an attacker who used up the limit for an account locks out only
// himself, the owner signs in from elsewhere, and what a client writes into X-Forwarded-For before
// the proxy appends the truth changes nothing. Failed sign-ins are logged for fail2ban, address
// first, never with the password.
func TestLoginBehindTrustedProxy(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := startServer(t, testOptions{loginLimit: 3, trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, log: logs})
	ts.signedUp("owner")
	attacker := ts.browser()
	const password = "Secret guess 7"
	for i := range 3 {
		if r := attacker.loginFrom(forwardedFor("203.0.113.9"), "owner", fmt.Sprintf("%s%d", password, i)); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d", i, r.status)
		}
	}
	assertTooMany(t, attacker.loginFrom(forwardedFor("203.0.113.9"), "owner", password), loginWindow, "Too many")
	// Whatever the attacker writes in front, the proxy's entry on the right is the address counted.
	assertTooMany(t, attacker.loginFrom(forwardedFor("198.51.100.1, 203.0.113.9"), "owner", password), loginWindow, "Too many")
	if r := attacker.loginFrom(map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 127.0.0.1"}, "owner", password); r.status != http.StatusTooManyRequests {
		t.Fatalf("through two trusted proxies: status %d, want 429", r.status)
	}

	owner := ts.browser()
	if r := owner.loginFrom(forwardedFor("192.0.2.44"), "owner", "a wrong password"); r.status != http.StatusUnauthorized {
		t.Fatalf("the owner's typo from another address: status %d, want 401", r.status)
	}
	if r := owner.loginFrom(forwardedFor("192.0.2.44"), "owner", "a long enough password"); r.status != http.StatusSeeOther {
		t.Fatalf("the owner from another address: status %d, want 303", r.status)
	}

	log := logs.String()
	if !strings.Contains(log, `level=WARN msg="sign-in failed" client=203.0.113.9 username=owner`) {
		t.Fatalf("no fail2ban line for the attacker's guess in the log:\n%s", log)
	}
	if strings.Contains(log, password) {
		t.Fatalf("a password is in the log:\n%s", log)
	}
	attacker.loginFrom(forwardedFor("203.0.113.10"), "x client=192.0.2.1", password)
	if log := logs.String(); !strings.Contains(log, `msg="sign-in failed" client=203.0.113.10 username="x client=192.0.2.1"`) {
		t.Fatalf("a username posing as an address is not quoted after the real one:\n%s", log)
	}
}

// Finding 4: without trusted proxies X-Forwarded-For is the client's own writing and ignored, so
// changing it on every guess does not reset the count.
func TestLoginForgedForwardedForIgnored(t *testing.T) {
	ts := startServer(t, testOptions{loginLimit: 3})
	ts.signedUp("owner")
	attacker := ts.browser()
	for i := range 3 {
		if r := attacker.loginFrom(forwardedFor(fmt.Sprintf("198.51.100.%d", i)), "owner", "a guess"); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d", i, r.status)
		}
	}
	assertTooMany(t, attacker.loginFrom(forwardedFor("198.51.100.200"), "owner", "a guess"), loginWindow, "Too many")
}

// Finding 8: without BASE_URL the expected origin is the Host the request came to; X-Forwarded-Host
// and -Proto count only from a trusted proxy, so a client cannot name its own origin as ours.
func TestOriginFromForwardedHostOnlyViaTrustedProxy(t *testing.T) {
	forged := map[string]string{"Origin": "https://evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
	direct := startServer(t, testOptions{})
	if r := direct.browser().loginFrom(forged, "nobody", "a guess"); r.status != http.StatusForbidden {
		t.Fatalf("a client naming its own origin in X-Forwarded-Host: status %d, want 403", r.status)
	}
	proxied := startServer(t, testOptions{trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	public := map[string]string{"Origin": "https://chat.example", "X-Forwarded-Host": "chat.example", "X-Forwarded-Proto": "https"}
	if r := proxied.browser().loginFrom(public, "nobody", "a guess"); r.status != http.StatusUnauthorized {
		t.Fatalf("the public origin a trusted proxy names: status %d, want 401 (checked, wrong password)", r.status)
	}
}

// Finding 7: an address may register REGISTER_LIMIT accounts an hour; the next is refused with 429
// and a readable reason, the form kept. A registration that did not happen (a taken name) does not
// count.
func TestRegistrationLimitPerAddress(t *testing.T) {
	ts := startServer(t, testOptions{registerLimit: 10})
	for i := range 10 {
		ts.signedUp(fmt.Sprintf("user%d", i))
		if i == 4 {
			if r := ts.browser().register("user0", "a long enough password"); r.status != http.StatusConflict {
				t.Fatalf("a taken name: status %d, want 409", r.status)
			}
		}
	}
	r := ts.browser().register("eleventh", "a long enough password")
	assertTooMany(t, r, registerWindow, "Too many accounts")
	if !strings.Contains(r.body, `value="eleventh"`) {
		t.Fatal("the typed username is not kept in the form")
	}
	if n := userCount(t, ts); n != 10 {
		t.Fatalf("%d users, want 10", n)
	}
}

// Counts whose window ended are deleted by the sweeper at the session sweep's cadence.
func TestThrottleRowsSwept(t *testing.T) {
	ts := startServer(t, testOptions{sweep: 20 * time.Millisecond})
	if _, _, err := ts.store.ThrottleHit(t.Context(), "an ended window", -time.Second); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.store.ThrottleHit(t.Context(), "a live window", time.Hour); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ts.countRows("throttle") != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d throttle rows 30 s after a window ended, want the live one", ts.countRows("throttle"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Finding 7: by default password hashing runs on one core fewer than the machine has (at least one),
// so a flood of sign-ins and registrations always leaves the chat a core.
func TestHashingLeavesTheChatACore(t *testing.T) {
	ts := startServer(t, testOptions{})
	if got, want := cap(ts.srv.hasher.slots), max(1, runtime.NumCPU()-1); got != want {
		t.Fatalf("%d hashing workers on %d CPUs, want %d", got, runtime.NumCPU(), want)
	}
}
