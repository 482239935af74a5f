package handlers

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"messenger/handlers/session"
)

func TestRegisterSignsInAndSetsOneSafeCookie(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		b := ts.browser()
		form := url.Values{"first_name": {"Ada"}, "last_name": {"Lovelace"}, "gender": {"1"}, "username": {"ada"}, "password": {"analytical engine"}}
		r := b.post("/register", "/register", form)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
			t.Fatalf("register: %d %q", r.status, r.header.Get("Location"))
		}
		cookies := r.header.Values("Set-Cookie")
		if len(cookies) != 1 {
			t.Fatalf("want exactly one Set-Cookie, got %q", cookies)
		}
		c := cookies[0]
		for _, want := range []string{session.CookieName + "=", "Path=/", "HttpOnly", "SameSite=Lax"} {
			if !strings.Contains(c, want) {
				t.Errorf("cookie %q lacks %q", c, want)
			}
		}
		if strings.Contains(c, "Secure") {
			t.Errorf("cookie over plain HTTP marked Secure: %q", c)
		}
		if r := b.get("/"); r.status != http.StatusOK || !strings.Contains(r.body, `action="/logout"`) {
			t.Fatalf("after register, / = %d", r.status)
		}
	})
}

func TestRegisterRejectsBadInput(t *testing.T) {
	ts := startServer(t, testOptions{})
	ts.signedUp("taken")
	good := func() url.Values {
		return url.Values{"first_name": {"Grace"}, "last_name": {"Hopper"}, "gender": {"0"}, "username": {"grace"}, "password": {"cobol is fine"}}
	}
	cases := []struct {
		name, field, value string
		status             int
		alert              string
	}{
		{"sql metacharacters", "username", "x'; DROP TABLE users;--", 422, "only letters"},
		{"zero width", "username", "gr\u200bace", 422, "only letters"},
		{"bidi override", "username", "gr\u202eace", 422, "only letters"},
		{"control", "username", "gr\x07ace", 422, "only letters"},
		{"33 characters", "username", strings.Repeat("g", 33), 422, "at most 32"},
		{"10000 characters", "username", strings.Repeat("g", 10000), 422, "at most 32"},
		{"nul", "username", "gra\x00ce", 422, "invalid characters"},
		{"invalid utf8 username", "username", "gra\xffce", 422, "invalid characters"},
		{"invalid utf8 first name", "first_name", "Gr\xffce", 422, "invalid characters"},
		{"empty first name", "first_name", "  ", 422, "Enter your first name"},
		{"unknown gender", "gender", "7", 422, "listed options"},
		{"non-numeric gender", "gender", "x", 422, "listed options"},
		{"short password", "password", "short", 422, "at least 8"},
		{"common password", "password", "password123", 422, "too easy"},
		{"duplicate by case", "username", "TAKEN", 409, "taken"},
		{"duplicate by width", "username", "ｔａｋｅｎ", 409, "taken"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := good()
			form.Set(c.field, c.value)
			r := ts.browser().post("/register", "/register", form)
			if r.status != c.status {
				t.Fatalf("status %d, want %d\n%s", r.status, c.status, r.body)
			}
			if !strings.Contains(r.body, `role="alert"`) || !strings.Contains(r.body, c.alert) {
				t.Fatalf("no alert containing %q", c.alert)
			}
			if c.field != "first_name" && !strings.Contains(r.body, `value="Grace"`) {
				t.Error("the typed first name was not kept")
			}
		})
	}
	// Nobody but the first user was created; the table is intact.
	if list, err := ts.store.Contacts(t.Context(), -1); err != nil || len(list) != 1 {
		t.Fatalf("users table changed: %d users, %v", len(list), err)
	}
}

func TestRegisterAcceptsLongPassword(t *testing.T) {
	ts := startServer(t, testOptions{})
	if r := ts.browser().register("longpw", strings.Repeat("ab", 32)); r.status != http.StatusSeeOther {
		t.Fatalf("64-character password refused: %d", r.status)
	}
}

func TestConcurrentRegistrationsOfOneName(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		const n = 50
		browsers := make([]*browser, n)
		forms := make([]url.Values, n)
		for i := range browsers {
			browsers[i] = ts.browser()
			forms[i] = url.Values{"first_name": {"Twin"}, "gender": {"0"}, "username": {"twin"}, "password": {fmt.Sprintf("password number %d", i)}, "_csrf": {browsers[i].token("/register")}}
		}
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range browsers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = browsers[i].do(http.MethodPost, "/register", forms[i], nil).status
			}()
		}
		wg.Wait()
		created, conflicts := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusSeeOther:
				created++
			case http.StatusConflict:
				conflicts++
			}
		}
		if created != 1 || conflicts != n-1 {
			t.Fatalf("created %d, conflicts %d, statuses %v", created, conflicts, statuses)
		}
	})
}

func TestHugeBodyRefused(t *testing.T) {
	ts := startServer(t, testOptions{})
	// Announce a 1 MB form and send none of it: the server must refuse on the header alone.
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", 1<<20)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("1 MB body: status %d", resp.StatusCode)
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Error("413 without security headers")
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	ts := startServer(t, testOptions{})
	ts.signedUp("known")
	wrong := ts.browser().post("/login", "/login", url.Values{"username": {"known"}, "password": {"not the password"}})
	unknown := ts.browser().post("/login", "/login", url.Values{"username": {"nobody"}, "password": {"not the password"}})
	if wrong.status != http.StatusUnauthorized || unknown.status != wrong.status {
		t.Fatalf("statuses differ or wrong: %d vs %d", wrong.status, unknown.status)
	}
	if alertText(wrong.body) == "" || alertText(wrong.body) != alertText(unknown.body) {
		t.Fatalf("alerts differ: %q vs %q", alertText(wrong.body), alertText(unknown.body))
	}
	if !strings.Contains(wrong.body, `value="known"`) {
		t.Error("typed username not kept")
	}
	good := ts.browser().post("/login", "/login", url.Values{"username": {"KNOWN"}, "password": {"a long enough password"}})
	if good.status != http.StatusSeeOther {
		t.Fatalf("login ignoring case: %d", good.status)
	}
}

func TestLoginThrottledPerAccount(t *testing.T) {
	ts := startServer(t, testOptions{loginLimit: 5})
	ts.signedUp("victim")
	ts.signedUp("bystander")
	attacker := ts.browser()
	tok := attacker.token("/login")
	throttled := 0
	for i := 0; i < 1000; i++ {
		r := attacker.do(http.MethodPost, "/login", url.Values{"_csrf": {tok}, "username": {"victim"}, "password": {fmt.Sprintf("guess %d", i)}}, nil)
		switch r.status {
		case http.StatusTooManyRequests:
			throttled++
			if i == 999 && !strings.Contains(alertText(r.body), "Too many") {
				t.Fatalf("429 without a readable alert: %q", alertText(r.body))
			}
		case http.StatusUnauthorized:
		default:
			t.Fatalf("attempt %d: status %d", i, r.status)
		}
	}
	if throttled != 995 {
		t.Fatalf("throttled %d of 1000, want 995", throttled)
	}
	if r := ts.browser().post("/login", "/login", url.Values{"username": {"victim"}, "password": {"a long enough password"}}); r.status != http.StatusTooManyRequests {
		t.Fatalf("locked account signed in during the window: %d", r.status)
	}
	if r := ts.browser().post("/login", "/login", url.Values{"username": {"bystander"}, "password": {"a long enough password"}}); r.status != http.StatusSeeOther {
		t.Fatalf("another account was affected: %d", r.status)
	}
}

func TestSessionFixationAndLogout(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		ts.signedUp("owner")
		b := ts.browser()
		b.token("/login") // an anonymous session, as an attacker could plant
		base, _ := url.Parse(ts.url)
		planted := b.client.Jar.Cookies(base)[0].Value
		if r := b.post("/login", "/login", url.Values{"username": {"owner"}, "password": {"a long enough password"}}); r.status != http.StatusSeeOther {
			t.Fatalf("login: %d", r.status)
		}
		signedIn := b.client.Jar.Cookies(base)[0].Value
		if signedIn == planted {
			t.Fatal("session id not rotated at login")
		}
		replay := ts.browser()
		replay.client.Jar.SetCookies(base, []*http.Cookie{{Name: session.CookieName, Value: planted}})
		if r := replay.get("/"); r.status != http.StatusSeeOther {
			t.Fatalf("planted id still works: %d", r.status)
		}

		if r := b.do(http.MethodGet, "/logout", nil, nil); r.status != http.StatusMethodNotAllowed {
			t.Fatalf("GET /logout: %d", r.status)
		}
		if r := b.post("/", "/logout", url.Values{}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Fatalf("logout: %d %s", r.status, r.header.Get("Location"))
		}
		stolen := ts.browser()
		stolen.client.Jar.SetCookies(base, []*http.Cookie{{Name: session.CookieName, Value: signedIn}})
		if r := stolen.get("/"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Fatalf("cookie reused after logout: %d", r.status)
		}
	})
}

func TestForgedCookieIsAnonymous(t *testing.T) {
	ts := startServer(t, testOptions{})
	b := ts.signedUp("cookie")
	base, _ := url.Parse(ts.url)
	value := []byte(b.client.Jar.Cookies(base)[0].Value)
	for _, forged := range []string{string(value[:len(value)-2]) + "AA", "garbage", strings.Repeat("A", 4000)} {
		f := ts.browser()
		f.client.Jar.SetCookies(base, []*http.Cookie{{Name: session.CookieName, Value: forged}})
		if r := f.get("/"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Fatalf("forged cookie: %d", r.status)
		}
		if r := f.get("/login"); r.status != http.StatusOK {
			t.Fatalf("forged cookie broke /login: %d", r.status)
		}
	}
}

func TestCSRFAndOrigin(t *testing.T) {
	ts := startServer(t, testOptions{})
	ts.signedUp("bob")
	a := ts.signedUp("alice")
	other := ts.signedUp("mallory")
	foreignToken := other.token("/")
	cases := []struct {
		name    string
		form    url.Values
		headers map[string]string
	}{
		{"no token", url.Values{"body": {"hi"}}, nil},
		{"another session's token", url.Values{"body": {"hi"}, "_csrf": {foreignToken}}, nil},
		{"foreign origin", url.Values{"body": {"hi"}, "_csrf": {a.token("/")}}, map[string]string{"Origin": "https://evil.example"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.do(http.MethodPost, "/chat/bob/messages", c.form, c.headers)
			if r.status != http.StatusForbidden || alertText(r.body) == "" {
				t.Fatalf("status %d, alert %q", r.status, alertText(r.body))
			}
		})
	}
	if r := a.do(http.MethodPost, "/chat/bob/messages", url.Values{"body": {"hi"}}, map[string]string{"X-CSRF-Token": a.token("/")}); r.status != http.StatusSeeOther {
		t.Fatalf("token in the htmx header refused: %d", r.status)
	}
	if r := a.do(http.MethodPost, "/logout", url.Values{}, nil); r.status != http.StatusForbidden {
		t.Fatalf("logout without token: %d", r.status)
	}
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	ts := startServer(t, testOptions{})
	b := ts.signedUp("hdr")
	for _, path := range []string{"/", "/login", "/nope", "/chat/nobody", "/healthz", "/readyz", "/static/app.js"} {
		r := b.get(path)
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP allows unsafe: %q", path, csp)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		if ct := r.header.Get("Content-Type"); r.body != "" && !strings.Contains(ct, "charset=utf-8") {
			t.Errorf("%s: content type %q has no charset", path, ct)
		}
	}
}
