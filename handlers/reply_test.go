package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// A reply names a message of its own conversation: the new message carries data-reply-to and quotes
// the start of the original; anything else is a clear 400 (an error frame on the socket) with the
// text kept and nothing stored.
func TestReplies(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		a, b := ts.signedUp("alice"), ts.signedUp("bob")
		ts.signedUp("carol")
		long := "The original, which goes on " + strings.Repeat("and on ", 20) + "THE END"
		original := ts.sendStored("alice", "bob", long)
		elsewhere := ts.sendStored("alice", "carol", "not yours to quote")
		before := ts.countRows("messages")

		for _, bad := range []string{fmt.Sprint(elsewhere.MessageID), fmt.Sprint(elsewhere.MessageID + 100), "x", "-3"} {
			r := b.post("/chat/alice", "/chat/alice/messages", url.Values{"body": {"my answer"}, "reply_to": {bad}})
			if r.status != http.StatusBadRequest || alertText(r.body) == "" || !strings.Contains(r.body, ">my answer</textarea>") {
				t.Fatalf("reply to %q: %d %q", bad, r.status, alertText(r.body))
			}
		}
		bs := b.socket().ready()
		from := len(bs.snapshot())
		bs.sendJSON(fmt.Sprintf(`{"to":"alice","body":"over the socket","reply_to":"%d"}`, elsewhere.MessageID))
		bs.waitFor(from, `role="alert"`, "not in this conversation")
		if n := ts.countRows("messages"); n != before {
			t.Fatalf("refused replies stored %d messages", n-before)
		}

		// Without JavaScript, the reply link opens the composer replying.
		page := b.get(fmt.Sprintf("/chat/alice?reply_to=%d", original.MessageID)).body
		if !strings.Contains(page, fmt.Sprintf(`name="reply_to" value="%d"`, original.MessageID)) || strings.Contains(page, `id="reply-chip" hidden`) {
			t.Fatalf("the composer does not reply:\n%s", page)
		}
		if page := b.get(fmt.Sprintf("/chat/alice?reply_to=%d", elsewhere.MessageID)).body; !strings.Contains(page, `name="reply_to" value=""`) || strings.Contains(page, "not yours") {
			t.Fatal("the composer replies to another conversation's message")
		}

		as := a.socket().ready()
		from = len(as.snapshot())
		if r := b.post("/chat/alice", "/chat/alice/messages", url.Values{"body": {"my answer"}, "reply_to": {fmt.Sprint(original.MessageID)}, "client_id": {"reply-1"}}); r.status != http.StatusSeeOther {
			t.Fatalf("reply: %d %q", r.status, alertText(r.body))
		}
		quoted := regexp.MustCompile(fmt.Sprintf(`data-reply-to="%d"[\s\S]*?href="/chat/[a-z]+\?at=%d"[\s\S]*?>alice</span>: <span data-quote-text>The original, which goes on and on`,
			original.MessageID, original.MessageID))
		frame, _ := as.waitFor(from, `data-client-id="reply-1"`)
		if !quoted.MatchString(frame) || strings.Contains(frame, "THE END") || !strings.Contains(frame, "…") {
			t.Fatalf("alice's live reply does not quote the start of her message: %s", frame)
		}
		bs.sendJSON(fmt.Sprintf(`{"to":"alice","body":"and over the socket","reply_to":%d,"client_id":"reply-2"}`, original.MessageID))
		frame, _ = as.waitFor(from, `data-client-id="reply-2"`)
		if !strings.Contains(frame, fmt.Sprintf(`data-reply-to="%d"`, original.MessageID)) {
			t.Fatalf("a reply over the socket: %s", frame)
		}
		for who, page := range map[string]string{"alice": a.get("/chat/bob").body, "bob": b.get("/chat/alice").body} {
			if strings.Count(page, fmt.Sprintf(`data-reply-to="%d"`, original.MessageID)) != 2 || !quoted.MatchString(page) {
				t.Fatalf("%s's page does not show the replies:\n%s", who, page)
			}
		}
		a.remove("bob", original.MessageID)
		if page := b.get("/chat/alice").body; strings.Count(page, "deleted message") != 2 || strings.Contains(page, "The original") {
			t.Fatalf("replies to a deleted message still quote it:\n%s", page)
		}
	})
}
