package main

// Browser tests: real people's stories in headless Chromium against the real binary, asserting on the
// hooks of SPEC.md sections 3–6. Screenshots of each key step go to test-artifacts/.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestTwoUsersChat: two people register, find each other, chat live, reload, and log out.
func TestTwoUsersChat(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) { twoUsersChat(t, dialect) })
	}
}

func twoUsersChat(t *testing.T, dialect string) {
	srv := startServer(t, dialect)
	browsers := newBrowsers(t, srv, browserOpts{}, "alice", "bob")
	a, b := browsers[0], browsers[1]

	a.register("alice", "Alice", "Archer", "1")
	b.register("bob", "Bob", "Baker", "2")
	b.waitJS("alice in bob's users list", `!!document.querySelector('li[data-user="alice"]')`)
	a.open("/")
	a.waitJS("bob in alice's users list", `!!document.querySelector('li[data-user="bob"]')`)
	if n := evalJS[int](a, `document.querySelectorAll('li[data-user="alice"]').length`); n != 0 {
		a.fail("alice's users list shows alice herself (%d rows); it lists everyone else", n)
	}
	a.shot("users-list")

	a.openChat("bob")
	a.waitSocket(1)
	b.waitSocket(1)
	b.mark()
	a.shot("chat-open")

	const hello = "Hello Bob <b>bold</b>"
	a.send(hello)
	a.waitJS("alice's message in her conversation, sent by alice", hasMessageJS("alice", hello))
	a.waitJS("the composer emptied after sending", `document.querySelector("form#composer #body").value === ""`)
	a.shot("sent")

	b.waitJS("the unread count from alice to become 1 in bob's list, live", unreadJS("alice")+` === "1"`)
	b.assertNotReloaded("the unread count")
	b.waitJS("alice's message as the preview in bob's list, as text", `document.querySelector('li[data-user="alice"]').textContent.indexOf(`+jsString(hello)+`) >= 0 && !document.querySelector('li[data-user="alice"] b')`)
	b.shot("unread-1")

	b.openChat("alice")
	b.waitJS("alice's message in bob's conversation", hasMessageJS("alice", hello))
	if n := evalJS[int](b, `document.querySelectorAll("#messages .message-body b, #messages .message-body *").length`); n != 0 {
		b.fail("the message's <b> was parsed as HTML (%d elements inside .message-body); it must show as text", n)
	}
	b.waitSocket(1)
	a.mark()

	const reply = "Hi Alice! Nice to meet you."
	b.typeMessage(reply + "\r") // Enter sends
	b.waitJS("bob's reply in his conversation", hasMessageJS("bob", reply))
	b.waitJS("the composer emptied after Enter", `document.querySelector("form#composer #body").value === ""`)
	a.waitJS("bob's reply in alice's open conversation, live", hasMessageJS("bob", reply))
	a.assertNotReloaded("bob's reply")
	if shot := a.shot("reply-live"); dialect == "sqlite" {
		copyScreenshot(t, shot, "docs/screenshot.png")
	}
	b.shot("replied")
	a.assertNoCSPViolations("after the chat")
	b.assertNoCSPViolations("after the chat")

	a.do("reload", chromedp.Reload())
	a.waitJS("the conversation after a reload", `!!document.querySelector("form#composer") && document.querySelectorAll("#messages [data-message-id]").length >= 2`)
	msgs := a.messages()
	if len(msgs) != 2 || msgs[0].Sender != "alice" || msgs[0].Body != hello || msgs[1].Sender != "bob" || msgs[1].Body != reply {
		a.fail("history after reload = %+v, want alice's %q then bob's %q", msgs, hello, reply)
	}
	if !idsAscending(msgs) {
		a.fail("history after reload is not in order: %+v", msgs)
	}

	b.waitJS("no unread from alice in bob's list while he reads", unreadJS("alice")+` === "0"`)
	b.open("/")
	b.waitJS("no unread from alice in bob's users list", unreadJS("alice")+` === "0"`)
	b.shot("list-read")

	a.logout()
	b.logout()
	a.shot("logged-out")
	a.open("/")
	a.waitPath("/login")
	b.open("/chat/alice")
	b.waitPath("/login")
}

// TestNoJavaScript: the same story with scripts off: every page, form, send, older-history link and
// logout works by plain HTML (post/redirect/get).
func TestNoJavaScript(t *testing.T) {
	srv := startServer(t, "sqlite")
	browsers := newBrowsers(t, srv, browserOpts{noJS: true}, "alice", "bob")
	a, b := browsers[0], browsers[1]

	a.register("alice", "Alice", "Archer", "1")
	if evalJS[bool](a, `typeof window.htmx !== "undefined"`) {
		a.fail("htmx ran: the page's scripts were meant to be disabled")
	}
	b.register("bob", "Bob", "Baker", "2")
	b.waitJS("alice in bob's users list", `!!document.querySelector('li[data-user="alice"]')`)
	a.open("/")
	a.waitJS("bob in alice's users list", `!!document.querySelector('li[data-user="bob"]')`)
	a.shot("users-list")

	a.openChat("bob")
	const hello = "Hello Bob, no scripts here <i>really</i>"
	a.send(hello)
	a.waitJS("alice's message after post/redirect/get", `location.pathname === "/chat/bob" && `+hasMessageJS("alice", hello))
	a.waitJS("an empty composer after sending", `document.querySelector("form#composer #body").value === ""`)
	a.shot("sent")

	b.open("/")
	b.waitJS("1 unread from alice in bob's list after a reload", unreadJS("alice")+` === "1"`)
	b.shot("unread-1")
	b.openChat("alice")
	b.waitJS("alice's message in bob's conversation", hasMessageJS("alice", hello))
	if n := evalJS[int](b, `document.querySelectorAll("#messages .message-body *").length`); n != 0 {
		b.fail("markup in the message became %d elements; it must show as text", n)
	}
	const reply = "Hi Alice, plain HTML works"
	b.send(reply)
	b.waitJS("bob's reply after post/redirect/get", `location.pathname === "/chat/alice" && `+hasMessageJS("bob", reply))
	b.open("/")
	b.waitJS("no unread from alice once bob has read", unreadJS("alice")+` === "0"`)

	// 60 more messages, sent with alice's session as her browser would post them.
	seed := make([]string, 60)
	for i := range seed {
		seed[i] = fmt.Sprintf("seed message %02d", i+1)
	}
	httpUserFrom(a).sendMessages("bob", seed...)
	want := append([]string{hello, reply}, seed...) // 62, oldest first

	a.open("/chat/bob")
	a.waitJS("the newest messages", hasMessageJS("alice", seed[len(seed)-1]))
	newest := a.messages()
	if len(newest) != 50 {
		a.fail("the conversation shows %d messages, want the newest 50", len(newest))
	}
	if got := bodies(newest); !slices.Equal(got, want[len(want)-50:]) {
		a.fail("the newest page = %q, want %q", got, want[len(want)-50:])
	}
	a.do("scroll to the top", chromedp.ScrollIntoView(chromedp.CSS(`#messages a[href*="/messages?before="]`)))
	a.shot("older-link")
	a.click("Older messages", `#messages a[href*="/messages?before="]`)
	a.waitJS("the older messages page", `location.pathname === "/chat/bob/messages" && document.readyState !== "loading" && !!document.querySelector("#messages")`)
	older := a.messages()
	if got := bodies(older); !slices.Equal(got, want[:len(want)-50]) {
		a.fail("the older page = %q, want %q", got, want[:len(want)-50])
	}
	if !idsAscending(append(slices.Clone(older), newest...)) {
		a.fail("older page then newest page are not in order: %v then %v", ids(older), ids(newest))
	}
	if evalJS[bool](a, `!!document.querySelector('a[href*="/messages?before="]')`) {
		a.fail("the oldest page still links to older messages")
	}
	a.shot("older-page")
	a.click("Back to the conversation", `a[href="/chat/bob"]`)
	a.waitJS("the conversation again", `location.pathname === "/chat/bob" && !!document.querySelector("form#composer")`)

	a.logout()
	b.logout()
	a.shot("logged-out")
	a.open("/")
	a.waitPath("/login")
	b.open("/")
	b.waitPath("/login")
}

// TestPhoneLayout: on a 390x844 phone the list fills the screen, a conversation replaces it with a back
// link, and nothing (not even a long unbroken word) scrolls sideways.
func TestPhoneLayout(t *testing.T) {
	srv := startServer(t, "sqlite")
	bob := newHTTPUser(t, srv)
	bob.register("bob", "Bob", "Baker")
	p := newBrowser(t, srv, "alice-phone", browserOpts{mobile: true})

	p.open("/register")
	p.waitJS("the registration form", `!!document.querySelector('form[action="/register"]')`)
	if w := evalJS[int](p, `window.innerWidth`); w != 390 {
		p.fail("the phone viewport is %dpx wide, want 390", w)
	}
	p.assertNoHorizontalScroll("the registration page")
	p.shot("register")
	p.register("alice", "Alice", "Archer", "1")

	p.waitJS("bob in the users list", `!!document.querySelector('li[data-user="bob"]')`)
	p.assertNoHorizontalScroll("the users list")
	list := evalJS[map[string]float64](p, `(function () {
	  var r = document.querySelector("#user-list").getBoundingClientRect();
	  var main = document.querySelector("main");
	  return { left: r.left, width: r.width, vw: window.innerWidth,
	           mainShown: main && main.getClientRects().length > 0 && getComputedStyle(main).display !== "none" ? 1 : 0 };
	})()`)
	if list["left"] > 1 || list["width"] < list["vw"]-1 || list["mainShown"] != 0 {
		p.fail("on a phone the users list must fill the screen alone: %v", list)
	}
	p.shot("users-list")

	p.openChat("bob")
	p.waitSocket(1)
	chat := evalJS[map[string]float64](p, `(function () {
	  var shown = function (e) { return !!e && e.getClientRects().length > 0 && getComputedStyle(e).display !== "none"; };
	  var back = document.querySelector('a[aria-label="Back to conversations"]');
	  var r = back ? back.getBoundingClientRect() : {width: 0, height: 0};
	  var c = document.querySelector("form#composer").getBoundingClientRect();
	  return { listShown: shown(document.querySelector("#user-list")) ? 1 : 0, backShown: shown(back) ? 1 : 0,
	           backChats: back && back.textContent.indexOf("Chats") >= 0 ? 1 : 0, backW: r.width, backH: r.height,
	           composerBottom: c.bottom, composerWidth: c.width, vh: window.innerHeight, vw: window.innerWidth };
	})()`)
	if chat["listShown"] != 0 || chat["backShown"] != 1 || chat["backChats"] != 1 {
		p.fail("on a phone a conversation shows alone with a back link \"Chats\": %v", chat)
	}
	if chat["backW"] < 44 || chat["backH"] < 44 {
		p.fail("the back link is %vx%v px; a touch target needs 44x44", chat["backW"], chat["backH"])
	}
	if chat["composerBottom"] > chat["vh"]+1 || chat["composerWidth"] > chat["vw"]+1 {
		p.fail("the composer is not within the screen: %v", chat)
	}
	p.assertNoHorizontalScroll("the conversation")

	long := strings.Repeat("W", 300)
	p.send(long)
	p.waitJS("the long message", hasMessageJS("alice", long))
	bob.sendMessages("alice", "Hi Alice! Reading you on your phone?")
	p.waitJS("bob's message, live", hasMessageJS("bob", "Hi Alice! Reading you on your phone?"))
	p.assertNoHorizontalScroll("the conversation with a 300-character word")
	right := evalJS[float64](p, `Math.max.apply(null, Array.from(document.querySelectorAll("#messages .message-body")).map(function (e) { return e.getBoundingClientRect().right; }))`)
	if right > 390+1 {
		p.fail("a message bubble ends at %vpx, beyond the 390px screen", right)
	}
	shot := p.shot("chat")

	p.click("the back link", `a[aria-label="Back to conversations"]`)
	p.waitJS("the users list again", `location.pathname === "/" && !!document.querySelector('li[data-user="bob"]') && document.querySelector("#user-list").getClientRects().length > 0`)
	p.assertNoHorizontalScroll("the users list after a conversation")
	p.shot("users-list-after")
	copyScreenshot(t, shot, "docs/screenshot-phone.png")
}

// TestLiveFeatures: presence, a second tab, typing, read marks and hostile text, all live.
func TestLiveFeatures(t *testing.T) {
	srv := startServer(t, "sqlite")
	browsers := newBrowsers(t, srv, browserOpts{}, "alice", "bob")
	a, b := browsers[0], browsers[1]
	a.register("alice", "Alice", "Archer", "1")
	b.register("bob", "Bob", "Baker", "2")
	b.waitSocket(1)
	a.open("/")
	a.waitSocket(1)
	a.mark()
	rowOnline := func(v string) string {
		return `(function () { var e = document.querySelector('li[data-user="bob"]'); return !!e && e.getAttribute("data-online") === "` + v + `"; })()`
	}

	// (a) Presence: bob online while a page of his is open; offline a few seconds after he leaves.
	a.waitJS("bob online in alice's list", rowOnline("true"))
	b.open("about:blank")
	a.waitJSFor("bob to go offline in alice's list, live (4s grace)", rowOnline("false"), 15*time.Second)
	a.assertNotReloaded("presence")
	a.shot("bob-offline")
	b.open("/")
	b.waitSocket(1)
	a.waitJS("bob back online in alice's list, live", rowOnline("true"))
	a.assertNotReloaded("presence")

	// (b) A second tab of alice's on the same conversation receives what the first one sends.
	a.openChat("bob")
	a.waitSocket(1)
	a2 := a.newTab("alice-tab2")
	a2.open("/chat/bob")
	a2.waitJS("the conversation in alice's second tab", `!!document.querySelector("form#composer")`)
	a2.waitSocket(1)
	a2.waitJS("the second tab's conversation synced", `window.__ws.messages >= 1`)
	a2.mark()

	// (d) Read marks: unread until bob opens the conversation, then read, live.
	const first = "Are you there, Bob?"
	a.send(first)
	a.waitJS("alice's message in her first tab", hasMessageJS("alice", first))
	a2.waitJS("alice's own message in her second tab, live", hasMessageJS("alice", first))
	a2.assertNotReloaded("alice's own message")
	receipt := func(v string) string {
		sel := fmt.Sprintf(`#messages [data-message-id][data-sender="alice"] .receipt[data-read=%q]`, v)
		return fmt.Sprintf(`Array.from(document.querySelectorAll(%s)).length === 1 && document.querySelectorAll("#messages .receipt").length === 1`, jsString(sel))
	}
	a.waitJS("the message marked sent, not read", receipt("false"))
	a2.waitJS("the message marked sent, not read, in the second tab", receipt("false"))
	b.waitJS("1 unread from alice in bob's list", unreadJS("alice")+` === "1"`)
	a.shot("sent-unread")
	b.openChat("alice")
	b.waitJS("alice's message at bob's", hasMessageJS("alice", first))
	a.waitJS("the message marked read once bob opened the conversation, live", receipt("true"))
	a2.waitJS("the message marked read in the second tab, live", receipt("true"))
	a.assertNotReloaded("the read mark")
	a.shot("read")

	// (c) Typing: alice sees that bob is typing.
	b.waitSocket(1)
	b.typeMessage("I am typ")
	typing := `Array.from(document.querySelectorAll('[id^="typing-"]')).some(function (e) { return e.textContent.indexOf("is typing") >= 0; })`
	a.waitJS("\"bob is typing\" at alice's", typing)
	a.shot("typing")
	evalJS[chromedp.Void](b, `document.querySelector("form#composer #body").value = ""`)

	// (e) Hostile text arrives as text: no element, no script, no second #messages.
	const hostile = `<img src=x onerror="document.title='pwned'"><div id="messages">x</div>`
	titleA, titleB := evalJS[string](a, `document.title`), evalJS[string](b, `document.title`)
	b.send(hostile)
	for _, p := range []*tab{b, a, a2} {
		p.waitJS("the hostile message shown as text", hasMessageJS("bob", hostile))
		checks := evalJS[map[string]int](p, `({
		  messagesIDs: document.querySelectorAll('[id="messages"]').length,
		  imgs: document.querySelectorAll("#messages img, #user-list img").length,
		  inner: document.querySelectorAll("#messages .message-body *").length })`)
		if checks["messagesIDs"] != 1 || checks["imgs"] != 0 || checks["inner"] != 0 {
			p.fail("the hostile message became markup: %v", checks)
		}
	}
	a.waitJS("the hostile text as the preview in alice's list", `document.querySelector('li[data-user="bob"]').textContent.indexOf('<img src=x onerror=') >= 0`)
	if got := evalJS[string](a, `document.title`); got != titleA || strings.Contains(got, "pwned") {
		a.fail("the title changed from %q to %q", titleA, got)
	}
	if got := evalJS[string](b, `document.title`); got != titleB {
		b.fail("the title changed from %q to %q", titleB, got)
	}
	a.assertNotReloaded("the hostile message")
	a.shot("hostile-text")

	// Typing still reaches alice after bob has sent (the composer was swapped for a fresh one).
	evalJS[chromedp.Void](a, `document.querySelectorAll('[id^="typing-"]').forEach(function (e) { e.textContent = ""; })`)
	// bob keeps typing (the page reports typing at most every 3s) until alice sees it.
	for deadline := time.Now().Add(10 * time.Second); !evalJS[bool](a, typing); {
		if time.Now().After(deadline) {
			a.fail("alice never saw \"bob is typing\" while bob kept typing for 10s after he had sent a message")
		}
		b.typeMessage("typing again ")
	}
	for _, p := range []*tab{a, a2, b} {
		p.assertNoCSPViolations("after presence, a second tab, read marks, typing and hostile text")
	}
}

// TestRestartCatchUp: the server restarts (SIGTERM, then SIGKILL) while two people chat; the pages
// reconnect by themselves, sessions survive, and bob's open page ends with every message exactly once,
// in the database's order, without a reload.
func TestRestartCatchUp(t *testing.T) {
	srv := startServer(t, "sqlite")
	browsers := newBrowsers(t, srv, browserOpts{}, "alice", "bob", "bob-check")
	a, b, check := browsers[0], browsers[1], browsers[2]
	a.register("alice", "Alice", "Archer", "1")
	b.register("bob", "Bob", "Baker", "2")
	a.open("/")
	a.openChat("bob")
	b.open("/")
	b.openChat("alice")
	for _, p := range []*tab{a, b} {
		p.waitSocket(1)
		p.waitJS("the conversation synced over the socket", `window.__ws.messages >= 1`)
	}
	b.mark()

	var sent []string
	sendThree := func(round string) {
		t.Helper()
		for i := 1; i <= 3; i++ {
			body := fmt.Sprintf("%s message %d", round, i)
			a.send(body)
			a.waitJS("alice's message "+body, hasMessageJS("alice", body))
			sent = append(sent, body)
		}
	}
	// bobSeesAll waits until bob's page (never reloaded) shows exactly what alice sent, once each, in
	// the order a fresh page (the database) shows.
	bobSeesAll := func(when string) {
		t.Helper()
		b.waitJSFor(fmt.Sprintf("all %d messages at bob's page %s", len(sent), when),
			fmt.Sprintf(`document.querySelectorAll("#messages [data-message-id]").length >= %d && %s`, len(sent), hasMessageJS("alice", sent[len(sent)-1])),
			40*time.Second)
		b.assertNotReloaded("catching up " + when)
		live := b.messages()
		if got := bodies(live); !slices.Equal(got, sent) {
			b.fail("bob's page %s shows %q, want each of %q once, in order", when, got, sent)
		}
		check.open("/chat/alice")
		check.waitJS("the conversation in a fresh page", hasMessageJS("alice", sent[len(sent)-1]))
		stored := check.messages()
		if !slices.Equal(ids(live), ids(stored)) || !idsAscending(live) {
			b.fail("bob's page %s has ids %v; a fresh page has %v", when, ids(live), ids(stored))
		}
	}

	check.login("bob")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		round := map[syscall.Signal]string{syscall.SIGTERM: "sigterm", syscall.SIGKILL: "sigkill"}[sig]
		sendThree("before " + round)
		bobSeesAll("before the " + round + " restart")
		opensA, opensB := a.socketOpens(), b.socketOpens()
		closesA := evalJS[int](a, `window.__ws.closes`)
		b.holdReconnect() // bob's page gets the next three only by catching up
		srv.restart(sig)
		a.waitSocket(opensA + 1) // alice's page reconnects by itself
		wantCode := map[syscall.Signal]int{syscall.SIGTERM: 1012, syscall.SIGKILL: 1006}[sig]
		if code := evalJS[int](a, fmt.Sprintf(`window.__ws.codes[%d]`, closesA)); code != wantCode {
			a.fail("alice's socket closed with %d on %v, want %d (htmx-ext-ws reconnects after 1006, 1012, 1013)", code, sig, wantCode)
		}
		sendThree("after " + round)
		if evalJS[bool](b, `window.__ws.up`) {
			b.fail("bob's socket reconnected while held")
		}
		b.releaseReconnect()
		b.waitSocket(opensB + 1)
		bobSeesAll("after the " + round + " restart")
		b.shot("after-" + round)
	}

	// Sessions survived both restarts.
	a.open("/")
	a.waitJS("alice still signed in after the restarts", `location.pathname === "/" && !!document.querySelector('li[data-user="bob"]')`)
	b.open("/chat/alice")
	b.waitJS("bob still signed in after the restarts", `location.pathname === "/chat/alice" && !!document.querySelector("form#composer")`)
}

// TestUsersListCatchUp: bob's users list is open while his socket is down (a server restart); alice
// writes to him meanwhile; once the page has reconnected by itself it shows the unread message, without
// a reload (SPEC 6: after a dropped socket or a restart the page catches up by itself).
func TestUsersListCatchUp(t *testing.T) {
	srv := startServer(t, "sqlite")
	alice := newHTTPUser(t, srv)
	alice.register("alice", "Alice", "Archer")
	b := newBrowser(t, srv, "bob", browserOpts{})
	b.register("bob", "Bob", "Baker", "2")
	b.waitSocket(1)
	b.mark()
	opens := b.socketOpens()
	b.holdReconnect()
	srv.restart(syscall.SIGKILL)
	b.waitJS("bob's socket to notice the server went away", `!window.__ws.up`)
	alice.sendMessages("bob", "Written while your page was reconnecting")
	b.releaseReconnect()
	b.waitSocket(opens + 1)
	b.waitJS("1 unread from alice in bob's list after the page reconnected", unreadJS("alice")+` === "1"`)
	b.assertNotReloaded("the catch-up of the users list")
	b.shot("caught-up")
}

func (p *tab) assertNoHorizontalScroll(where string) {
	p.t.Helper()
	if !evalJS[bool](p, noHorizontalScrollJS) {
		sizes := evalJS[[]int](p, `[document.documentElement.scrollWidth, window.innerWidth]`)
		p.fail("%s scrolls sideways: scrollWidth %d > innerWidth %d", where, sizes[0], sizes[1])
	}
}

// copyScreenshot copies a screenshot of test-artifacts to a committed place in the repository when
// UPDATE_SCREENSHOTS is set (so an ordinary run leaves the working tree alone).
func copyScreenshot(t *testing.T, from, to string) {
	t.Helper()
	if os.Getenv("UPDATE_SCREENSHOTS") == "" || from == "" || t.Failed() {
		return
	}
	data, err := os.ReadFile(from)
	if err == nil {
		to = filepath.Join(repoRoot(t), to)
		if err = os.MkdirAll(filepath.Dir(to), 0o755); err == nil {
			err = os.WriteFile(to, data, 0o644)
		}
	}
	if err != nil {
		t.Errorf("copy the screenshot to %s: %v", to, err)
	}
}

func bodies(msgs []message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Body
	}
	return out
}

func idsAscending(msgs []message) bool {
	prev := int64(0)
	for _, m := range msgs {
		id, err := strconv.ParseInt(m.ID, 10, 64)
		if err != nil || id <= prev {
			return false
		}
		prev = id
	}
	return true
}

func ids(msgs []message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

var (
	_ = fmt.Sprint
	_ = slices.Equal[[]string]
	_ = strings.Repeat
	_ = syscall.SIGTERM
	_ = time.Second
)

// headerOnOneLineJS is true when every link and button in the users-list header keeps its label on one
// line, uncut.
const headerOnOneLineJS = `Array.from(document.querySelectorAll("aside header a, aside header button")).every(function (el) {
  var r = document.createRange(); r.selectNodeContents(el);
  return r.getClientRects().length === 1 && el.scrollWidth <= el.clientWidth;
})`

// replaceText empties a field and types text into it (DevTools evaluation works with scripts off).
func replaceText(css, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(css)+`).value = ""`),
		typeInto(css, text),
	)
}

// TestSettingsAndSignOutEverywhereElse: alice changes her name in the settings with JavaScript (the
// section is swapped in place) and, in a second browser, without (post/redirect/get); then the first
// browser signs out everywhere else and the second finds itself signed out. The header keeps "Settings"
// and "Log out" on one line in the 384px sidebar and on a 320px phone.
func TestSettingsAndSignOutEverywhereElse(t *testing.T) {
	srv := startServer(t, "sqlite")
	a := newBrowser(t, srv, "alice", browserOpts{})
	n := newBrowser(t, srv, "alice-nojs", browserOpts{noJS: true})
	a.register("alice", "Alice", "Archer", "1")
	n.login("alice")

	n.open("/settings")
	n.do("change the first name without JavaScript", replaceText("#first_name", "Ally"))
	n.click("Save profile", `#settings-profile button[type=submit]`)
	n.waitPath("/settings?saved=profile")
	n.waitJS("the saved note and the new name after the redirect",
		`!!document.querySelector("#settings-profile [data-saved]") && document.querySelector("#first_name").value === "Ally"`)
	n.shot("profile-saved-nojs")

	a.open("/")
	a.waitJS("the header's settings link", `!!document.querySelector('aside header a[href="/settings"]')`)
	if w := evalJS[float64](a, `document.querySelector("aside").getBoundingClientRect().width`); w != 384 {
		a.fail("the sidebar is %vpx wide at 1280px, want 384", w)
	}
	if !evalJS[bool](a, headerOnOneLineJS) {
		a.fail("a header link or button wraps or is cut in the 384px sidebar")
	}
	a.shot("header-384")
	a.click("Settings", `aside header a[href="/settings"]`)
	a.waitPath("/settings")
	a.waitJS("one other session counted", `document.querySelector("[data-other-sessions]").getAttribute("data-other-sessions") === "1"`)
	a.mark()
	a.do("change the first name", replaceText("#first_name", "Alicia"))
	a.click("Save profile", `#settings-profile button[type=submit]`)
	a.waitJS("the saved note in the profile section", `!!document.querySelector("#settings-profile [data-saved]") && document.querySelector("#first_name").value === "Alicia"`)
	a.assertNotReloaded("saving the profile")
	a.shot("profile-saved-js")

	n.open("/")
	n.waitPath("/")
	a.click("Sign out everywhere else", `#settings-sessions button[type=submit]`)
	a.waitJS("the sessions section confirming", `!!document.querySelector("#settings-sessions [data-saved]") && document.querySelector("[data-other-sessions]").getAttribute("data-other-sessions") === "0"`)
	a.assertNotReloaded("signing out everywhere else")
	a.shot("signed-out-elsewhere")
	n.open("/")
	n.waitPath("/login")
	n.shot("signed-out")

	a.open("/")
	a.waitJS("the new name in the header", `document.querySelector("aside header").textContent.indexOf("Alicia Archer") >= 0`)
	a.do("a 320px phone", chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))
	a.open("/")
	a.waitJS("the users list on the phone", `!!document.querySelector("#user-list")`)
	if !evalJS[bool](a, headerOnOneLineJS) || !evalJS[bool](a, noHorizontalScrollJS) {
		a.fail("on a 320px phone a header link or button wraps, or the page scrolls sideways")
	}
	a.shot("header-320")
	a.open("/settings")
	a.waitJS("the settings on the phone", `!!document.querySelector("#settings-sessions")`)
	if !evalJS[bool](a, noHorizontalScrollJS) {
		a.fail("the settings page scrolls sideways on a 320px phone")
	}
	a.shot("settings-320")
}

// TestNewUserAndHeaderDotLive: on a fresh install, the second person to register appears in the
// first one's list without a reload; in an open conversation, the header's dot goes grey and the
// status says "last seen" when the partner leaves, and green again when they come back.
func TestNewUserAndHeaderDotLive(t *testing.T) {
	srv := startServer(t, "sqlite")
	browsers := newBrowsers(t, srv, browserOpts{}, "alice", "bob")
	a, b := browsers[0], browsers[1]
	a.register("alice", "Alice", "Archer", "1")
	a.waitSocket(1)
	a.mark()
	b.register("bob", "Bob", "Baker", "2")
	a.waitJS("bob in alice's users list, live", `!!document.querySelector('li[data-user="bob"] [data-unread]') && !document.getElementById("user-list-empty")`)
	a.assertNotReloaded("the new user's row")
	a.shot("new-user-live")

	b.waitSocket(1)
	a.openChat("bob")
	a.waitSocket(1)
	a.mark()
	headerDot := func(online string) string {
		return `(function () { var d = document.querySelector('#chat header [data-dot]'); return !!d && d.getAttribute("data-online") === "` + online + `" && d.classList.contains("` + map[string]string{"true": "dot-online", "false": "dot-offline"}[online] + `"); })()`
	}
	a.waitJS("bob's dot green in the conversation header", headerDot("true"))
	b.open("about:blank")
	a.waitJSFor("bob's header dot to go grey, live (4s grace)", headerDot("false")+` && document.querySelector('#chat header [id^="status-"]').textContent.indexOf("last seen") >= 0`, 15*time.Second)
	a.waitJS("bob's row offline too", `document.querySelector('li[data-user="bob"]').getAttribute("data-online") === "false"`)
	a.assertNotReloaded("the header dot")
	a.shot("header-dot-grey")
	b.open("/")
	b.waitSocket(1)
	a.waitJS("bob's header dot green again, live", headerDot("true"))
	a.assertNotReloaded("the header dot")
}
