package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"messenger/models"
	"messenger/models/store"
)

// The users list narrowed by ?q=: a plain GET page, the list alone for the search field, a note when
// nobody matches.
func TestUserSearch(t *testing.T) {
	ts := startServer(t, testOptions{})
	alice := ts.signedUp("alice")
	ts.signedUp("bob")
	carol := ts.signedUp("carol")
	if r := carol.send("alice", "hello", ""); r.status != http.StatusSeeOther {
		t.Fatalf("send: %d", r.status)
	}
	for _, c := range []struct {
		q          string
		shown, not []string
	}{
		{"", []string{"bob", "carol"}, nil},
		{"BO", []string{"bob"}, []string{"carol", "alice"}},
		{"first car", []string{"carol"}, []string{"bob"}}, // the first name
		{"<b>", nil, []string{"bob", "carol"}},
	} {
		r := alice.get("/?q=" + url.QueryEscape(c.q))
		if r.status != http.StatusOK || !strings.Contains(r.body, `<form id="user-search" method="get" action="/"`) {
			t.Fatalf("/?q=%s: %d\n%s", c.q, r.status, r.body)
		}
		for _, u := range c.shown {
			if !strings.Contains(r.body, fmt.Sprintf(`data-user="%s"`, u)) {
				t.Errorf("/?q=%s does not list %s", c.q, u)
			}
		}
		for _, u := range c.not {
			if strings.Contains(r.body, fmt.Sprintf(`data-user="%s"`, u)) {
				t.Errorf("/?q=%s lists %s", c.q, u)
			}
		}
		if c.q != "" && !strings.Contains(r.body, `value="`+strings.ReplaceAll(strings.ReplaceAll(c.q, "<", "&lt;"), ">", "&gt;")+`"`) {
			t.Errorf("/?q=%s: the field lost what was typed", c.q)
		}
	}
	if r := alice.get("/?q=%3Cb%3E"); !strings.Contains(r.body, "Nobody matches “&lt;b&gt;”.") {
		t.Errorf("no match: the note is missing or not escaped:\n%s", r.body)
	}
	r := alice.do(http.MethodGet, "/?q=car", nil, map[string]string{"HX-Request": "true", "HX-Target": "user-list"})
	if r.status != http.StatusOK || !strings.HasPrefix(r.body, `<ul id="user-list"`) || !strings.Contains(r.body, `data-user="carol"`) ||
		strings.Contains(r.body, `data-user="bob"`) || r.header.Get("HX-Trigger") != "user-search" {
		t.Errorf("the field's request: %d %v\n%s", r.status, r.header, r.body)
	}
	for _, q := range []string{"%FF", url.QueryEscape(strings.Repeat("x", maxSearchLen+1))} {
		if r := alice.get("/?q=" + q); r.status != http.StatusBadRequest || alertText(r.body) == "" {
			t.Errorf("/?q=%.10s: %d, want 400 with an alert", q, r.status)
		}
	}
}

// A page whose list is narrowed tells its socket: lists pushed over it keep the filter, and a
// newcomer or a message of someone the search leaves out adds no row.
func TestUserSearchLive(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		alice := ts.signedUp("alice")
		ts.signedUp("bob")
		carol := ts.signedUp("carol")
		sock := alice.socket().ready()
		from := len(sock.snapshot())
		sock.sendJSON(`{"kind":"close","q":"BO"}`)
		frame, from := sock.waitFor(from, `<ul id="user-list"`, `data-filter="BO"`)
		if !strings.Contains(frame, `data-user="bob"`) || strings.Contains(frame, `data-user="carol"`) {
			t.Fatalf("the narrowed list over the socket: %s", frame)
		}
		if r := carol.send("alice", "not in the list", ""); r.status != http.StatusSeeOther {
			t.Fatalf("send: %d", r.status)
		}
		ts.signedUp("dave")
		ts.signedUp("bobby")
		_, upTo := sock.waitFor(from, `data-user="bobby"`, `beforeend:#user-list`)
		for _, f := range sock.snapshot()[from:upTo] {
			if strings.Contains(f, `data-user="carol"`) || strings.Contains(f, `data-user="dave"`) {
				t.Errorf("a row the search leaves out was pushed: %s", f)
			}
		}
		// Back to the whole list: carol's row moves up again.
		sock.sendJSON(`{"kind":"close","q":""}`)
		frame, _ = sock.waitFor(upTo, `<ul id="user-list"`)
		if !strings.Contains(frame, `data-user="carol"`) || !strings.Contains(frame, `data-user="dave"`) || strings.Contains(frame, `data-filter`) {
			t.Errorf("the whole list again: %s", frame)
		}
	})
}

// Message search: only the user's own messages, newest first, each linking into its conversation at
// that message; the text shown escaped with the words found marked; punctuation alone finds nothing,
// saying so.
func TestMessageSearch(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		alice := ts.signedUp("alice")
		ts.signedUp("bob")
		ts.signedUp("carol")
		users := usersNamed(t, ts, "alice", "bob", "carol")
		ids := map[string]int64{}
		for _, m := range []struct{ from, to, body string }{
			{"alice", "bob", "the needle is here"},
			{"carol", "bob", "needle between carol and bob"},
			{"bob", "alice", `<script>alert(1)</script> <b hx-get="/x">needles</b>`},
			{"alice", "carol", "no match"},
		} {
			msg, _, err := ts.store.SendMessage(t.Context(), store.SendInput{SenderID: users[m.from].UserID, RecipientID: users[m.to].UserID, Body: m.body})
			if err != nil {
				t.Fatal(err)
			}
			ids[m.body] = msg.MessageID
		}
		r := alice.get("/search?q=NEEDLE")
		if r.status != http.StatusOK {
			t.Fatalf("/search: %d\n%s", r.status, r.body)
		}
		got := messageIDs(r.body)
		want := []string{fmt.Sprint(ids[`<script>alert(1)</script> <b hx-get="/x">needles</b>`]), fmt.Sprint(ids["the needle is here"])}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("found %v, want %v (newest first, never carol and bob's)", got, want)
		}
		for _, w := range []string{
			fmt.Sprintf(`href="/chat/bob?at=%d"`, ids["the needle is here"]),
			`&lt;script&gt;alert(1)&lt;/script&gt; &lt;b hx-get=&#34;/x&#34;&gt;<mark class="search-match">needles</mark>&lt;/b&gt;`,
			`<form id="user-search"`, `value="NEEDLE"`,
		} {
			if !strings.Contains(r.body, w) {
				t.Errorf("/search lacks %s", w)
			}
		}
		if strings.Contains(r.body, "<script>alert") || strings.Contains(r.body, "between carol") {
			t.Error("/search shows markup from a message or another pair's message")
		}
		for _, c := range []struct{ q, note string }{
			{`"*:'()`, "Search for a word"},
			{"", "Search for a word"},
			{"haystack", "None of your messages contains “haystack”."},
		} {
			r := alice.get("/search?q=" + url.QueryEscape(c.q))
			if r.status != http.StatusOK || !strings.Contains(r.body, c.note) || len(messageIDs(r.body)) != 0 {
				t.Errorf("/search?q=%s: %d, want 200 with %q and no results", c.q, r.status, c.note)
			}
		}
		for _, path := range []string{"/search?q=x&before=-1", "/search?q=x&before=abc", "/search?q=%FF"} {
			if r := alice.get(path); r.status != http.StatusBadRequest {
				t.Errorf("%s: %d, want 400", path, r.status)
			}
		}
		if r := ts.browser().get("/search?q=needle"); r.status != http.StatusSeeOther {
			t.Errorf("/search signed out: %d, want a redirect to the login", r.status)
		}
	})
}

// Opening a conversation at a message (?at=) shows it marked among its neighbours, with older and
// newer pages from there; a message of another pair, or no message, is not found.
func TestChatAtMessage(t *testing.T) {
	ts := startServer(t, testOptions{})
	alice := ts.signedUp("alice")
	ts.signedUp("bob")
	ts.signedUp("carol")
	users := usersNamed(t, ts, "alice", "bob", "carol")
	var ids []int64
	for i := range 120 {
		from, to := users["alice"], users["bob"]
		if i%2 == 1 {
			from, to = to, from
		}
		msg, _, err := ts.store.SendMessage(t.Context(), store.SendInput{SenderID: from.UserID, RecipientID: to.UserID, Body: fmt.Sprintf("message %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, msg.MessageID)
	}
	other, _, err := ts.store.SendMessage(t.Context(), store.SendInput{SenderID: users["carol"].UserID, RecipientID: users["bob"].UserID, Body: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	at := ids[60]
	r := alice.get(fmt.Sprintf("/chat/bob?at=%d", at))
	if r.status != http.StatusOK {
		t.Fatalf("?at: %d\n%s", r.status, r.body)
	}
	shown := messageIDs(r.body)
	if len(shown) != olderBeforeFocus+1+newerAfterFocus || shown[olderBeforeFocus] != fmt.Sprint(at) {
		t.Fatalf("?at=%d shows %d messages %v, want %d before it and %d after", at, len(shown), shown, olderBeforeFocus, newerAfterFocus)
	}
	for _, w := range []string{
		fmt.Sprintf(`data-message-id="%d" data-seq="61" data-sender="alice" data-focus="true"`, at),
		fmt.Sprintf(`href="/chat/bob/messages?before=%d"`, ids[60-olderBeforeFocus]),
		fmt.Sprintf(`href="/chat/bob/messages?after=%d"`, ids[60+newerAfterFocus]),
		`name="after" value="120"`, // the socket brings only what is newer than the conversation now
	} {
		if !strings.Contains(r.body, w) {
			t.Errorf("?at page lacks %s", w)
		}
	}
	if strings.Count(r.body, "data-focus") != 1 {
		t.Errorf("data-focus %d times", strings.Count(r.body, "data-focus"))
	}
	newer := alice.do(http.MethodGet, fmt.Sprintf("/chat/bob/messages?after=%d", ids[20]), nil, map[string]string{"HX-Request": "true"})
	if got := messageIDs(newer.body); newer.status != http.StatusOK || len(got) != pageSize || got[0] != fmt.Sprint(ids[21]) ||
		!strings.Contains(newer.body, fmt.Sprintf(`?after=%d"`, ids[20+pageSize])) {
		t.Errorf("newer page: %d, %v", newer.status, got)
	}
	last := alice.get(fmt.Sprintf("/chat/bob/messages?after=%d", ids[100]))
	if got := messageIDs(last.body); last.status != http.StatusOK || len(got) != 19 || strings.Contains(last.body, "?after=") ||
		!strings.Contains(last.body, "Later messages with") {
		t.Errorf("last newer page without JavaScript: %d, %d messages", last.status, len(got))
	}
	for path, status := range map[string]int{
		fmt.Sprintf("/chat/bob?at=%d", other.MessageID):             http.StatusNotFound,
		fmt.Sprintf("/chat/carol?at=%d", at):                        http.StatusNotFound,
		"/chat/bob?at=99999999":                                     http.StatusNotFound,
		"/chat/bob?at=abc":                                          http.StatusBadRequest,
		"/chat/bob?at=-5":                                           http.StatusBadRequest,
		fmt.Sprintf("/chat/bob/messages?after=%d", other.MessageID): http.StatusNotFound,
		"/chat/bob/messages?after=x":                                http.StatusBadRequest,
		fmt.Sprintf("/chat/nobody/messages?after=%d", at):           http.StatusNotFound,
	} {
		if r := alice.get(path); r.status != status || strings.Contains(r.body, "theirs") {
			t.Errorf("%s: %d, want %d", path, r.status, status)
		}
	}
}

func usersNamed(t *testing.T, ts *testServer, names ...string) map[string]models.User {
	t.Helper()
	users := map[string]models.User{}
	for _, name := range names {
		u, err := ts.store.UserByUsername(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		users[name] = u
	}
	return users
}

// Web addresses in a message are links on the conversation page and in the fragment pushed over the
// socket; nothing else in the text becomes markup.
func TestMessageLinks(t *testing.T) {
	ts := startServer(t, testOptions{})
	alice := ts.signedUp("alice")
	bob := ts.signedUp("bob")
	sock := bob.socket().ready()
	from := len(sock.snapshot())
	body := `look: https://example.org/a?b=1&c="x"<img src=x onerror=alert(1)> javascript:alert(1) data:text/html,hi (https://example.com/path).`
	if r := alice.send("bob", body, "link-1"); r.status != http.StatusSeeOther {
		t.Fatalf("send: %d", r.status)
	}
	want := `look: <a href="https://example.org/a?b=1&amp;c=" rel="noopener noreferrer nofollow" target="_blank" class="message-link">https://example.org/a?b=1&amp;c=</a>&#34;x&#34;&lt;img src=x onerror=alert(1)&gt; javascript:alert(1) data:text/html,hi (<a href="https://example.com/path" rel="noopener noreferrer nofollow" target="_blank" class="message-link">https://example.com/path</a>).`
	if page := alice.get("/chat/bob").body; !strings.Contains(page, want) {
		t.Errorf("the conversation page does not show the links safely:\n%s", page)
	}
	if frame, _ := sock.waitFor(from, `data-client-id="link-1"`); !strings.Contains(frame, want) {
		t.Errorf("the pushed fragment does not show the links safely:\n%s", frame)
	}
}

// The title counts the unread messages over all conversations: rendered by the server, and kept
// current over the socket when a message arrives and when the user reads a conversation.
func TestUnreadTitle(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		alice := ts.signedUp("alice")
		bob := ts.signedUp("bob")
		carol := ts.signedUp("carol")
		if r := alice.get("/"); !strings.Contains(r.body, "<title>Chats · Messenger</title>") || !strings.Contains(r.body, `data-unread-total="0"`) {
			t.Fatalf("nothing unread: %s", r.body)
		}
		bob.send("alice", "one", "")
		carol.send("alice", "two", "")
		if r := alice.get("/"); !strings.Contains(r.body, "<title>(2) Chats · Messenger</title>") || !strings.Contains(r.body, `data-unread-total="2"`) {
			t.Errorf("two unread: the title is not counted")
		}
		sock := alice.socket().ready()
		from := len(sock.snapshot())
		carol.send("alice", "three", "c3")
		frame, from := sock.waitFor(from, `data-client-id="c3"`)
		if !strings.Contains(frame, `<span id="unread-total" data-unread-total="3" hidden hx-swap-oob="true">`) {
			t.Errorf("a new message does not count in the title: %s", frame)
		}
		if r := alice.get("/chat/carol"); !strings.Contains(r.body, "<title>(1) ") {
			t.Errorf("after reading carol's: the title is not (1)")
		}
		if frame, _ := sock.waitFor(from, `id="unread-total"`); !strings.Contains(frame, `data-unread-total="1"`) {
			t.Errorf("reading does not update the other pages' title: %s", frame)
		}
		if frame := sock.snapshot()[0]; !strings.Contains(frame, `id="unread-total"`) {
			t.Errorf("the list pushed at (re)connect lacks the total: %s", frame)
		}
	})
}
