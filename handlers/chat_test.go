package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	messageIDPattern = regexp.MustCompile(`data-message-id="(\d+)"`)
	unreadPattern    = regexp.MustCompile(`data-user="([^"]+)"[\s\S]*?data-unread="(\d+)"`)
)

func messageIDs(body string) []string {
	var ids []string
	for _, m := range messageIDPattern.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func unreadCounts(body string) map[string]string {
	out := map[string]string{}
	for _, m := range unreadPattern.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestConversationFlow(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		a, b := ts.signedUp("alice"), ts.signedUp("bob")
		for i := 1; i <= 3; i++ {
			if r := a.send("bob", fmt.Sprintf("message %d", i), ""); r.status != http.StatusSeeOther || r.header.Get("Location") != "/chat/bob" {
				t.Fatalf("send %d: %d %s", i, r.status, r.header.Get("Location"))
			}
		}
		list := b.get("/")
		if got := unreadCounts(list.body)["alice"]; got != "3" {
			t.Fatalf("bob's unread from alice = %q, want 3", got)
		}
		if !strings.Contains(list.body, `data-online="true"`) {
			t.Error("alice, just active, is not shown online")
		}
		chat := b.get("/chat/alice")
		if ids := messageIDs(chat.body); len(ids) != 3 {
			t.Fatalf("conversation shows %d messages", len(ids))
		}
		if !strings.Contains(chat.body, `id="messages"`) || !strings.Contains(chat.body, `data-sender="alice"`) || !strings.Contains(chat.body, `<form id="composer"`) {
			t.Fatal("conversation hooks missing")
		}
		history := chat.body[strings.Index(chat.body, `id="messages"`):]
		if i1, i3 := strings.Index(history, "message 1"), strings.Index(history, "message 3"); i1 < 0 || i1 > i3 {
			t.Fatal("history is not oldest first")
		}
		if got := unreadCounts(b.get("/").body)["alice"]; got != "0" {
			t.Fatalf("unread after viewing = %q, want 0", got)
		}
		// Alice's view of her messages now says read.
		if !strings.Contains(a.get("/chat/bob").body, `data-read="true"`) {
			t.Error("sender does not see the read mark")
		}
	})
}

func TestFragmentForHTMX(t *testing.T) {
	ts := startServer(t, testOptions{})
	ts.signedUp("bob")
	a := ts.signedUp("alice")
	r := a.do(http.MethodGet, "/chat/bob", nil, map[string]string{"HX-Request": "true"})
	if r.status != http.StatusOK || strings.Contains(r.body, "<html") || !strings.Contains(r.body, `id="shell"`) {
		t.Fatalf("htmx fragment: %d, has html: %v", r.status, strings.Contains(r.body, "<html"))
	}
	if !strings.Contains(r.header.Get("Vary"), "HX-Request") {
		t.Error("no Vary: HX-Request")
	}
	full := a.do(http.MethodGet, "/chat/bob", nil, map[string]string{"HX-Request": "true", "HX-History-Restore-Request": "true"})
	if !strings.Contains(full.body, "<html") {
		t.Error("history restore did not get the full page")
	}
	sent := a.do(http.MethodPost, "/chat/bob/messages", url.Values{"body": {"via htmx"}, "client_id": {"c-1"}},
		map[string]string{"HX-Request": "true", "X-CSRF-Token": a.token("/")})
	if sent.status != http.StatusOK || !strings.Contains(sent.body, `data-client-id="c-1"`) || !strings.Contains(sent.body, `<form id="composer"`) {
		t.Fatalf("htmx send: %d\n%s", sent.status, sent.body)
	}
	if strings.Contains(sent.body, `value="c-1"`) {
		t.Error("the fresh composer reuses the sent client id")
	}
}

func TestSendRejectsBadInput(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		ts.signedUp("bob")
		a := ts.signedUp("alice")
		cases := []struct {
			name, to, body, clientID string
			status                   int
			alert                    string
		}{
			{"empty", "bob", "", "", 422, "Write a message"},
			{"whitespace", "bob", " \n\t ", "", 422, "Write a message"},
			{"too long", "bob", strings.Repeat("a", 4001), "", 422, "too long"},
			{"invalid utf8", "bob", "hi \xff", "", 422, "invalid characters"},
			{"bad client id", "bob", "hi", "<script>", 422, "client id"},
			{"unknown recipient", "nobody", "hello?", "", 404, "no user"},
			{"yourself", "alice", "note to self", "", 422, "yourself"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				for _, htmx := range []bool{false, true} {
					headers := map[string]string{"X-CSRF-Token": a.token("/")}
					if htmx {
						headers["HX-Request"] = "true"
					}
					r := a.do(http.MethodPost, "/chat/"+c.to+"/messages", url.Values{"body": {c.body}, "client_id": {c.clientID}}, headers)
					if r.status != c.status {
						t.Fatalf("htmx=%v: status %d, want %d", htmx, r.status, c.status)
					}
					if !strings.Contains(alertText(r.body), c.alert) {
						t.Fatalf("htmx=%v: alert %q lacks %q", htmx, alertText(r.body), c.alert)
					}
					if !strings.Contains(r.body, `<form id="composer"`) {
						t.Fatalf("htmx=%v: the composer is not given back", htmx)
					}
					if c.body == "hi" && !strings.Contains(r.body, ">hi</textarea>") {
						t.Fatalf("htmx=%v: the typed text was lost", htmx)
					}
				}
			})
		}
		if n := unreadFor(t, ts, "alice", "bob"); n != 0 {
			t.Fatalf("%d messages stored from bad input", n)
		}
	})
}

func TestIdempotentSend(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		b := ts.signedUp("bob")
		a := ts.signedUp("alice")
		for i := 0; i < 3; i++ {
			a.send("bob", "only once", "retry-key")
		}
		if ids := messageIDs(b.get("/chat/alice").body); len(ids) != 1 {
			t.Fatalf("stored %d times", len(ids))
		}
	})
}

func TestMarkupIsText(t *testing.T) {
	ts := startServer(t, testOptions{})
	b := ts.signedUp("bob")
	a := ts.signedUp("alice")
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)><div id="messages" hx-get="/logout" hx-trigger="load">x</div>`
	a.send("bob", evil, "")
	for _, page := range []string{"/", "/chat/alice"} {
		body := b.get(page).body
		for _, bad := range []string{"<script>alert", "<img src=x", `<div id="messages" hx-get`} {
			if strings.Contains(body, bad) {
				t.Fatalf("%s renders markup from a message: %q", page, bad)
			}
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Fatalf("%s does not show the text escaped", page)
		}
	}
}

func TestPagingAndCursors(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		b := ts.signedUp("bob")
		a := ts.signedUp("alice")
		c := ts.signedUp("carol")
		for i := 1; i <= 60; i++ {
			a.send("bob", fmt.Sprintf("m%02d", i), "")
		}
		c.send("bob", "carol's", "")
		page := b.get("/chat/alice").body
		ids := messageIDs(page)
		if len(ids) != 50 || !strings.Contains(page, "Older messages") {
			t.Fatalf("first page has %d messages", len(ids))
		}
		older := b.get("/chat/alice/messages?before=" + ids[0])
		if got := messageIDs(older.body); len(got) != 10 || older.status != http.StatusOK {
			t.Fatalf("older page: %d, %d messages", older.status, len(got))
		}
		if strings.Contains(older.body, "Older messages<") {
			t.Error("the last page still offers older messages")
		}
		carolMsg := messageIDs(b.get("/chat/carol").body)[0]
		cases := []struct {
			who    *browser
			path   string
			status int
		}{
			{b, "/chat/alice/messages?before=" + carolMsg, 404}, // another conversation's cursor
			{c, "/chat/alice/messages?before=" + ids[10], 404},  // carol never wrote to alice
			{b, "/chat/alice/messages?before=abc", 400},
			{b, "/chat/alice/messages?before=-5", 400},
			{b, "/chat/alice/messages?before=99999999999999999999999", 400},
			{b, "/chat/alice/messages?before=9223372036854775807", 404},
			{b, "/chat/alice/messages", 400},
			{b, "/chat/nobody", 404},
			{b, "/chat/" + url.PathEscape("x'; DROP TABLE messages;--"), 404},
		}
		for _, tc := range cases {
			r := tc.who.get(tc.path)
			if r.status != tc.status || alertText(r.body) == "" {
				t.Errorf("%s: %d (alert %q), want %d", tc.path, r.status, alertText(r.body), tc.status)
			}
			if strings.Contains(r.body, "m01") || strings.Contains(strings.ToLower(r.body), "sql") {
				t.Errorf("%s leaks: %s", tc.path, r.body)
			}
		}
	})
}

func TestDatabaseDownKeepsTheText(t *testing.T) {
	ts := startServer(t, testOptions{})
	ts.signedUp("bob")
	a := ts.signedUp("alice")
	tok := a.token("/")
	if err := ts.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, htmx := range []bool{false, true} {
		headers := map[string]string{"X-CSRF-Token": tok}
		if htmx {
			headers["HX-Request"] = "true"
		}
		r := a.do(http.MethodPost, "/chat/bob/messages", url.Values{"body": {"please arrive"}, "client_id": {"k1"}, "_csrf": {tok}}, headers)
		if r.status != http.StatusServiceUnavailable {
			t.Fatalf("htmx=%v: status %d", htmx, r.status)
		}
		if !strings.Contains(r.body, ">please arrive</textarea>") || !strings.Contains(r.body, `value="k1"`) || alertText(r.body) == "" {
			t.Fatalf("htmx=%v: text, client id or alert lost:\n%s", htmx, r.body)
		}
	}
	if r := a.get("/readyz"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database closed: %d", r.status)
	}
}
