package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"messenger/models"
	"messenger/models/store"
	"messenger/models/store/storetest"
)

// sendStored sends body from one user to another through the store and returns the message.
func (ts *testServer) sendStored(from, to, body string) models.ExtendedMessage {
	ts.t.Helper()
	ctx := ts.t.Context()
	a, err := ts.store.UserByUsername(ctx, from)
	if err != nil {
		ts.t.Fatal(err)
	}
	b, err := ts.store.UserByUsername(ctx, to)
	if err != nil {
		ts.t.Fatal(err)
	}
	m, _, err := ts.store.SendMessage(ctx, store.SendInput{SenderID: a.UserID, RecipientID: b.UserID, Body: body})
	if err != nil {
		ts.t.Fatal(err)
	}
	return m
}

func messagePath(partner string, id int64, action string) string {
	return fmt.Sprintf("/chat/%s/messages/%d/%s", url.PathEscape(partner), id, action)
}

func (b *browser) edit(partner string, id int64, body string) response {
	b.t.Helper()
	return b.post("/chat/"+partner, messagePath(partner, id, "edit"), url.Values{"body": {body}})
}

func (b *browser) remove(partner string, id int64) response {
	b.t.Helper()
	return b.post("/chat/"+partner, messagePath(partner, id, "delete"), url.Values{})
}

// Only the sender edits or deletes a message, only under its own conversation's URL: everyone and
// everything else gets the same 404, which shows nothing of the message.
func TestEditAndDeleteArePrivate(t *testing.T) {
	ts := startServer(t, testOptions{})
	a, b, c := ts.signedUp("alice"), ts.signedUp("bob"), ts.signedUp("carol")
	toBob := ts.sendStored("alice", "bob", "secret for bob")
	toCarol := ts.sendStored("alice", "carol", "secret for carol")
	fromBob := ts.sendStored("bob", "alice", "secret from bob")
	cases := []struct {
		name    string
		who     *browser
		partner string
		id      string
	}{
		{"the recipient", b, "alice", fmt.Sprint(toBob.MessageID)},
		{"the recipient, naming himself", b, "bob", fmt.Sprint(toBob.MessageID)},
		{"a third user", c, "alice", fmt.Sprint(toBob.MessageID)},
		{"the sender under another conversation", a, "carol", fmt.Sprint(toBob.MessageID)},
		{"the sender, another conversation's message", a, "bob", fmt.Sprint(toCarol.MessageID)},
		{"the recipient of the partner's message", a, "bob", fmt.Sprint(fromBob.MessageID)},
		{"a missing id", a, "bob", fmt.Sprint(fromBob.MessageID + 100)},
		{"a non-numeric id", a, "bob", "x1"},
		{"a negative id", a, "bob", "-1"},
		{"a huge id", a, "bob", "99999999999999999999999"},
		{"an unknown partner", a, "nobody", fmt.Sprint(toBob.MessageID)},
	}
	for _, tc := range cases {
		for _, action := range []string{"edit", "delete"} {
			path := "/chat/" + tc.partner + "/messages/" + tc.id + "/" + action
			for _, r := range []response{tc.who.get(path), tc.who.post("/", path, url.Values{"body": {"changed"}})} {
				if r.status != http.StatusNotFound || strings.Contains(r.body, "secret") || alertText(r.body) == "" {
					t.Errorf("%s, %s: status %d, alert %q", tc.name, path, r.status, alertText(r.body))
				}
			}
		}
	}
	for _, m := range []models.ExtendedMessage{toBob, toCarol, fromBob} {
		got, err := ts.store.MessageByID(t.Context(), m.MessageID)
		if err != nil || got.MessageBody != m.MessageBody || got.EditedAt != nil || got.DeletedAt != nil {
			t.Fatalf("message %d changed by someone else: %+v, %v", m.MessageID, got, err)
		}
	}
}

var hiddenPattern = regexp.MustCompile(`name="(after|changes)" value="(\d+)"`)

// pagePosition reads where a conversation page stands: its newest seq and newest change.
func pagePosition(page string) (after, changes string) {
	for _, m := range hiddenPattern.FindAllStringSubmatch(page, -1) {
		if m[1] == "after" {
			after = m[2]
		} else {
			changes = m[2]
		}
	}
	return after, changes
}

// Without JavaScript: an edit page, a confirmation page and plain posts that redirect back; a bad
// edit keeps the text and says why; the pages show the mark, the placeholder and the previews.
func TestEditAndDeleteWithoutJavaScript(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		a, b := ts.signedUp("alice"), ts.signedUp("bob")
		first := ts.sendStored("alice", "bob", "first words")
		last := ts.sendStored("alice", "bob", "last words")

		page := a.get(messagePath("bob", first.MessageID, "edit"))
		if page.status != http.StatusOK || !strings.Contains(page.body, ">first words</textarea>") || !strings.Contains(page.body, `action="`+messagePath("bob", first.MessageID, "edit")+`"`) {
			t.Fatalf("edit page: %d\n%s", page.status, page.body)
		}
		long := strings.Repeat("x", models.BodyMaxLen+1)
		for _, bad := range []string{"   ", long} {
			r := a.edit("bob", first.MessageID, bad)
			if r.status != http.StatusUnprocessableEntity || alertText(r.body) == "" || !strings.Contains(r.body, ">"+bad+"</textarea>") {
				t.Fatalf("edit to %d characters: %d %q", len(bad), r.status, alertText(r.body))
			}
		}
		r := a.edit("bob", first.MessageID, "first words, <b>fixed</b>")
		if r.status != http.StatusSeeOther || r.header.Get("Location") != fmt.Sprintf("/chat/bob#m-%d", first.MessageID) {
			t.Fatalf("edit: %d %s", r.status, r.header.Get("Location"))
		}
		confirm := a.get(messagePath("bob", last.MessageID, "delete"))
		if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "data-delete-form") || !strings.Contains(confirm.body, "last words") {
			t.Fatalf("delete confirmation: %d\n%s", confirm.status, confirm.body)
		}
		if r := a.remove("bob", last.MessageID); r.status != http.StatusSeeOther {
			t.Fatalf("delete: %d", r.status)
		}
		if r := a.remove("bob", last.MessageID); r.status != http.StatusSeeOther {
			t.Fatalf("delete again: %d", r.status)
		}
		if r := a.edit("bob", last.MessageID, "back again"); r.status != http.StatusConflict || alertText(r.body) == "" {
			t.Fatalf("edit of a deleted message: %d %q", r.status, alertText(r.body))
		}

		if r := b.get("/"); unreadCounts(r.body)["alice"] != "1" {
			t.Fatalf("bob's unread count after a deletion: %v", unreadCounts(r.body))
		}
		for who, br := range map[string]*browser{"alice": a, "bob": b} {
			partner := map[string]string{"alice": "bob", "bob": "alice"}[who]
			chat := br.get("/chat/" + partner).body
			if !regexp.MustCompile(fmt.Sprintf(`id="m-%d"[^>]*data-edited="true"`, first.MessageID)).MatchString(chat) ||
				!strings.Contains(chat, "first words, &lt;b&gt;fixed&lt;/b&gt;") || strings.Contains(chat, ">first words<") {
				t.Fatalf("%s's page after the edit:\n%s", who, chat)
			}
			if !regexp.MustCompile(fmt.Sprintf(`id="m-%d"[^>]*data-deleted="true"`, last.MessageID)).MatchString(chat) || strings.Contains(chat, "last words") {
				t.Fatalf("%s's page after the deletion:\n%s", who, chat)
			}
			if _, changes := pagePosition(chat); changes != "2" {
				t.Fatalf("%s's page holds change %q, want 2", who, changes)
			}
			if list := br.get("/").body; !strings.Contains(list, "Message deleted") || strings.Contains(list, "last words") {
				t.Fatalf("%s's users list after deleting the newest message:\n%s", who, list)
			}
		}
		if m, err := ts.store.MessageByID(t.Context(), last.MessageID); err != nil || m.MessageBody != "" {
			t.Fatalf("deleted message in the database: %q, %v", m.MessageBody, err)
		}
	})
}

// With htmx the answers are fragments: the form in place of the message, the message as it is now.
func TestEditAndDeleteWithHTMX(t *testing.T) {
	ts := startServer(t, testOptions{})
	a := ts.signedUp("alice")
	ts.signedUp("bob")
	m := ts.sendStored("alice", "bob", "typo heer")
	htmx := map[string]string{"HX-Request": "true", "X-CSRF-Token": a.token("/chat/bob")}
	form := a.do(http.MethodGet, messagePath("bob", m.MessageID, "edit"), nil, htmx)
	if form.status != http.StatusOK || strings.Contains(form.body, "<html") || !strings.Contains(form.body, fmt.Sprintf(`<form id="m-%d"`, m.MessageID)) {
		t.Fatalf("edit form fragment: %d\n%s", form.status, form.body)
	}
	cancel := a.do(http.MethodGet, fmt.Sprintf("/chat/bob/messages/%d", m.MessageID), nil, htmx)
	if cancel.status != http.StatusOK || !strings.Contains(cancel.body, fmt.Sprintf(`<article id="m-%d"`, m.MessageID)) {
		t.Fatalf("cancelled edit: %d\n%s", cancel.status, cancel.body)
	}
	bad := a.do(http.MethodPost, messagePath("bob", m.MessageID, "edit"), url.Values{"body": {" "}}, htmx)
	if bad.status != http.StatusUnprocessableEntity || !strings.Contains(bad.body, `role="alert"`) || strings.Contains(bad.body, "<html") {
		t.Fatalf("refused edit fragment: %d\n%s", bad.status, bad.body)
	}
	ok := a.do(http.MethodPost, messagePath("bob", m.MessageID, "edit"), url.Values{"body": {"typo here"}}, htmx)
	if ok.status != http.StatusOK || !strings.Contains(ok.body, `data-edited="true"`) || !strings.Contains(ok.body, "typo here") {
		t.Fatalf("edit fragment: %d\n%s", ok.status, ok.body)
	}
	del := a.do(http.MethodPost, messagePath("bob", m.MessageID, "delete"), url.Values{}, htmx)
	if del.status != http.StatusOK || !strings.Contains(del.body, `data-deleted="true"`) || strings.Contains(del.body, "typo here") || strings.Contains(del.body, "Edit this message") {
		t.Fatalf("delete fragment: %d\n%s", del.status, del.body)
	}
}

// An edit and a deletion reach every socket of both people at once, whatever page each has open, and
// no one else's; when the message is the newest, the users-list rows show the new preview.
func TestEditAndDeleteLive(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		a, b, c := ts.signedUp("alice"), ts.signedUp("bob"), ts.signedUp("carol")
		m := ts.sendStored("alice", "bob", "before the edit")
		aOpen, aList := a.socket().ready(), a.socket().ready()
		bOpen, bList := b.socket().ready(), b.socket().ready()
		cSock := c.socket().ready()
		aOpen.sendJSON(fmt.Sprintf(`{"kind":"open","to":"bob","after":"%d","changes":"0"}`, m.Seq))
		aOpen.waitFor(0, `id="live-`)
		bOpen.sendJSON(fmt.Sprintf(`{"kind":"open","to":"alice","after":"%d","changes":"0"}`, m.Seq))
		bOpen.waitFor(0, `id="live-`)
		all := []*liveSocket{aOpen, aList, bOpen, bList}
		froms := map[*liveSocket]int{}
		for _, s := range all {
			froms[s] = len(s.snapshot())
		}

		if r := a.edit("bob", m.MessageID, "after the edit"); r.status != http.StatusSeeOther {
			t.Fatalf("edit: %d", r.status)
		}
		article := fmt.Sprintf(`<article id="m-%d"`, m.MessageID)
		for _, s := range all {
			frame, _ := s.waitFor(froms[s], article, `data-edited="true"`, "after the edit")
			if !strings.Contains(frame, `hx-swap-oob="true"`) || !strings.Contains(frame, `data-user=`) {
				t.Fatalf("edit frame without the row's new preview: %s", frame)
			}
			froms[s] = len(s.snapshot())
		}
		if frame, _ := aOpen.waitFor(0, "after the edit"); !strings.Contains(frame, "Edit this message") {
			t.Fatalf("the sender's copy has no edit link: %s", frame)
		}
		if frame, _ := bOpen.waitFor(0, "after the edit"); strings.Contains(frame, "Edit this message") || strings.Contains(frame, "Delete this message") {
			t.Fatalf("the recipient's copy offers to change it: %s", frame)
		}

		if r := a.remove("bob", m.MessageID); r.status != http.StatusSeeOther {
			t.Fatalf("delete: %d", r.status)
		}
		for _, s := range all {
			frame, _ := s.waitFor(froms[s], article, `data-deleted="true"`, "Message deleted")
			if strings.Contains(frame, "after the edit") {
				t.Fatalf("deleted text still sent: %s", frame)
			}
		}
		// Frames keep the order of events: once carol has alice's next message, she would have had
		// anything sent before it.
		a.send("carol", "to carol, live", "carol-1")
		cSock.waitFor(0, "to carol, live")
		for _, f := range cSock.snapshot() {
			if strings.Contains(f, article) || strings.Contains(f, "the edit") {
				t.Fatalf("carol got a change of someone else's conversation: %s", f)
			}
		}
	})
}

// A page that was away catches up on every edit and deletion made meanwhile once, from the change it
// holds: a reconnect with the position the replay gave it replays nothing, and a live change after
// it comes once.
func TestChangesCatchUpExactlyOnce(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		a, b := ts.signedUp("alice"), ts.signedUp("bob")
		first := ts.sendStored("alice", "bob", "one")
		second := ts.sendStored("alice", "bob", "two")
		after, changes := pagePosition(b.get("/chat/alice").body)
		if after == "" || changes != "0" {
			t.Fatalf("page position: after %q changes %q", after, changes)
		}
		a.edit("bob", first.MessageID, "one, edited")
		a.remove("bob", second.MessageID)
		a.edit("bob", first.MessageID, "one, edited twice")

		s := b.socket().ready()
		from := len(s.snapshot())
		s.sendJSON(fmt.Sprintf(`{"kind":"open","to":"alice","after":"%s","changes":"%s"}`, after, changes))
		frame, _ := s.waitFor(from, `id="live-`)
		for _, id := range []int64{first.MessageID, second.MessageID} {
			if n := strings.Count(frame, fmt.Sprintf(`<article id="m-%d"`, id)); n != 1 {
				t.Fatalf("message %d replayed %d times: %s", id, n, frame)
			}
		}
		if !strings.Contains(frame, "one, edited twice") || strings.Contains(frame, "one, edited<") || !strings.Contains(frame, `name="changes" value="3" hx-swap-oob="true"`) {
			t.Fatalf("replay: %s", frame)
		}

		// The page now holds change 3: reconnecting from there replays nothing.
		s2 := b.socket().ready()
		from = len(s2.snapshot())
		s2.sendJSON(fmt.Sprintf(`{"kind":"open","to":"alice","after":"%s","changes":"3"}`, after))
		frame, _ = s2.waitFor(from, `id="live-`)
		if strings.Contains(frame, "<article") {
			t.Fatalf("a page up to date was replayed changes: %s", frame)
		}
		from = len(s2.snapshot())
		a.edit("bob", first.MessageID, "one, edited thrice")
		frame, _ = s2.waitFor(from, "one, edited thrice")
		if strings.Count(frame, fmt.Sprintf(`<article id="m-%d"`, first.MessageID)) != 1 || !strings.Contains(frame, `name="changes" value="4"`) {
			t.Fatalf("live change after the replay: %s", frame)
		}
		bad := b.socket().ready()
		from = len(bad.snapshot())
		bad.sendJSON(`{"kind":"open","to":"alice","after":"0","changes":"-1"}`)
		bad.waitFor(from, `role="alert"`)
	})
}

// An edit made through one instance reaches the other's sockets, which load the message as stored.
func TestTwoInstancesDeliverChanges(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	one := startServer(t, testOptions{databaseURL: dbURL, pgBroker: true})
	two := startServer(t, testOptions{databaseURL: dbURL, pgBroker: true})
	aliceOnOne := one.signedUp("alice")
	bobOnTwo := two.signedUp("bob")
	m := one.sendStored("alice", "bob", "said on one")
	bobSock := bobOnTwo.socket().ready()
	from := len(bobSock.snapshot())
	aliceOnOne.edit("bob", m.MessageID, "changed on one")
	frame, _ := bobSock.waitFor(from, fmt.Sprintf(`<article id="m-%d"`, m.MessageID), "changed on one", `data-edited="true"`)
	if strings.Contains(frame, "Edit this message") {
		t.Fatalf("bob's copy offers to edit alice's message: %s", frame)
	}
}
