package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	_ "modernc.org/sqlite" // the "sqlite" driver, to date messages back in the server's file
)

// visibleTimesJS lists the bodies of the messages that show their own time (the last of each group).
const visibleTimesJS = `Array.from(document.querySelectorAll("#messages article[data-message-id]")).filter(function (a) {
  var t = a.querySelector("time[datetime]");
  return t && getComputedStyle(t).display !== "none";
}).map(function (a) { return a.querySelector(".message-body").textContent; })`

// topOfJS is where a message is on screen (its top, in CSS pixels), by its text.
func topOfJS(body string) string {
	return `(function () {
	  var b = Array.from(document.querySelectorAll("#messages .message-body")).find(function (e) { return e.textContent === ` + jsString(body) + `; });
	  return b ? b.closest("article").getBoundingClientRect().top : -1e9;
	})()`
}

// TestConversationComfort: a reader comes back to a conversation with unread messages from days that
// span "Today", "Yesterday" and an older date in her time zone; the page starts at the "new messages"
// divider, shows one time per group of messages, keeps what she reads in place while new messages
// arrive and older ones load, counts the new ones on "jump to latest", and keeps her draft.
func TestConversationComfort(t *testing.T) {
	srv := startServer(t, "sqlite")
	browsers := newBrowsers(t, srv, browserOpts{}, "alice", "bob")
	a, b := browsers[0], browsers[1]
	// Alice reads in Auckland (UTC+13 in December), so her days are not the server's UTC days.
	a.setTimezone("Pacific/Auckland")
	a.register("alice", "Alice", "Archer", "1")
	b.register("bob", "Bob", "Baker", "2")
	bob := httpUserFrom(b)

	// 45 messages alice reads, then 20 she has not: the page shows the newest 50.
	var history, unread []string
	for i := 1; i <= 45; i++ {
		history = append(history, fmt.Sprintf("history %d", i))
	}
	for i := 1; i <= 20; i++ {
		unread = append(unread, fmt.Sprintf("new %d", i))
	}
	bob.sendMessages("alice", history...)
	a.openChat("bob")
	a.waitJS("bob's history at alice's", hasMessageJS("bob", "history 45"))
	a.open("/")
	bob.sendMessages("alice", unread...)
	// History 16-20 were written three days ago, 21-25 yesterday (in Auckland and in UTC alike).
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.dir, "messenger.db")+"?_pragma=busy_timeout(10000)&_time_format=sqlite")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, back := range []struct {
		from, to int
		age      time.Duration
	}{{16, 20, 72 * time.Hour}, {21, 25, 24 * time.Hour}} {
		if _, err := db.Exec(`UPDATE messages SET message_date = ? WHERE seq BETWEEN ? AND ?`, time.Now().UTC().Add(-back.age), back.from, back.to); err != nil {
			t.Fatalf("date messages back: %v", err)
		}
	}

	a.waitJS("20 unread from bob at alice's", unreadJS("bob")+` === "20"`)
	a.openChat("bob")
	a.waitSocket(1)
	a.mark()
	a.shot("opened-at-divider")

	// The divider sits right before the first unread message, and the page starts there.
	divider := evalJS[map[string]any](a, `(function () {
	  var d = document.getElementById("unread-divider"), s = document.getElementById("scroller");
	  if (!d) return {};
	  var next = d.nextElementSibling;
	  var r = d.getBoundingClientRect(), box = s.getBoundingClientRect();
	  return { next: next && next.querySelector(".message-body") ? next.querySelector(".message-body").textContent : "",
	           text: d.textContent.trim(), inView: r.top >= box.top && r.bottom <= box.bottom,
	           count: document.querySelectorAll("#unread-divider").length };
	})()`)
	if divider["next"] != "new 1" || divider["text"] != "New messages" || divider["inView"] != true || divider["count"] != float64(1) {
		a.fail("the \"new messages\" divider = %v; want one, in view, right before \"new 1\"", divider)
	}

	// Days in alice's time zone: an older date, Yesterday, Today, each heading its own messages.
	days := evalJS[[]map[string]string](a, `Array.from(document.querySelectorAll("#messages .day-sep")).map(function (s) {
	  var a = s.nextElementSibling;
	  while (a && !a.matches("article")) a = a.nextElementSibling;
	  var d = new Date(Date.now() - 72 * 3600 * 1000);
	  return { label: s.textContent.trim(), first: a ? a.querySelector(".message-body").textContent : "",
	           older: new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" }).format(d) };
	})`)
	if len(days) != 3 || days[0]["label"] != days[0]["older"] || days[0]["first"] != "history 16" ||
		days[1]["label"] != "Yesterday" || days[1]["first"] != "history 21" ||
		days[2]["label"] != "Today" || days[2]["first"] != "history 26" {
		a.fail("day separators = %v; want the date of 3 days ago before \"history 16\", Yesterday before \"history 21\", Today before \"history 26\"", days)
	}

	// One time per group: each day's run of bob's messages, and the run the divider starts.
	want := []string{"history 20", "history 25", "history 45", "new 20"}
	if got := evalJS[[]string](a, visibleTimesJS); fmt.Sprint(got) != fmt.Sprint(want) {
		a.fail("messages showing their time = %q; want only the last of each group, %q", got, want)
	}
	a.send("thanks bob")
	a.waitJS("alice's message in her conversation", hasMessageJS("alice", "thanks bob"))
	want = append(want, "thanks bob")
	a.waitJS("alice's message to show its time and bob's last to keep his", fmt.Sprintf(`JSON.stringify(%s) === %s`, visibleTimesJS, jsString(jsonList(want))))

	// Scrolled up, new messages arrive: what alice reads stays put, the button counts them.
	// Chromium anchors the scroll by itself; Safari does not, and neither does a page without it, so
	// the page's own keeping is what is tested.
	a.do("scroll up, without the browser's scroll anchoring", chromedp.Evaluate[chromedp.Void](`(function () {
	  var s = document.getElementById("scroller"); s.style.overflowAnchor = "none"; s.scrollTop = -600; })()`))
	a.waitJS("the jump-to-latest button while scrolled up", `!document.getElementById("jump-latest").hidden`)
	const watched = "new 5"
	before := evalJS[float64](a, topOfJS(watched))
	bob.sendMessages("alice", "live 1", "live 2")
	a.waitJS("bob's live messages at alice's", hasMessageJS("bob", "live 2"))
	a.assertNotReloaded("bob's live messages")
	if after := evalJS[float64](a, topOfJS(watched)); math.Abs(after-before) > 1 { // scrolling is by whole pixels
		a.fail("%q moved from %v to %v px when new messages arrived below it; it must stay where alice reads it", watched, before, after)
	}
	a.waitJS("the jump-to-latest button to count 2 new messages", `document.querySelector("#jump-latest [data-new-count]").getAttribute("data-new-count") === "2"`)
	copyScreenshot(t, a.shot("jump-to-latest"), "docs/screenshot-comfort.png")
	a.click("jump to latest", "#jump-latest")
	a.waitJS("the latest message in view after the jump", `document.getElementById("scroller").scrollTop > -2 && document.getElementById("jump-latest").hidden`)
	if n := evalJS[string](a, `document.querySelector("#jump-latest [data-new-count]").getAttribute("data-new-count")`); n != "0" {
		a.fail("after jumping to the latest the count is %s; want 0", n)
	}

	// Older messages load above what alice reads without moving it.
	a.do("scroll to the top", chromedp.Evaluate[chromedp.Void](`(function () { var s = document.getElementById("scroller"); s.scrollTop = -s.scrollHeight; })()`))
	top := evalJS[float64](a, topOfJS("history 16"))
	a.waitJS("older messages loaded", hasMessageJS("bob", "history 1"))
	if after := evalJS[float64](a, topOfJS("history 16")); math.Abs(after-top) > 1 {
		a.fail("\"history 16\" moved from %v to %v px when older messages loaded above it", top, after)
	}
	a.shot("older-loaded")

	// A draft survives a reload, is this conversation's only, and goes once sent.
	const draft = "half a thought"
	a.typeMessage(draft)
	a.do("reload", chromedp.Reload())
	a.waitJS("the draft back in the composer after a reload", `document.querySelector("form#composer #body").value === `+jsString(draft))
	a.waitSocket(1)
	a.click("Send", `form#composer button[type=submit]`)
	a.waitJS("the draft sent", hasMessageJS("alice", draft))
	a.waitJS("the composer emptied after sending", `document.querySelector("form#composer #body").value === ""`)
	a.do("reload", chromedp.Reload())
	a.waitJS("the conversation after a reload", `!!document.querySelector("form#composer #body") && `+hasMessageJS("alice", draft))
	if v := evalJS[string](a, `document.querySelector("form#composer #body").value`); v != "" {
		a.fail("the composer holds %q after the draft was sent and the page reloaded; want it empty", v)
	}
	a.assertNoCSPViolations("after the comfort features")
}

// notificationProbe replaces the page's Notification with one that records what it is asked to show
// (headless Chromium shows none), keeping the browser's permission, records sounds played instead of
// playing them, and lets the test hide and show the tab.
const notificationProbe = `(function () {
  var Real = window.Notification;
  window.__notes = []; window.__plays = []; window.__asked = 0;
  function Recorder(title, options) {
    this.title = title; this.body = options && options.body;
    window.__notes.push({ title: title, body: this.body });
    window.__lastNote = this;
  }
  Recorder.prototype.close = function () {};
  Object.defineProperty(Recorder, "permission", { get: function () { return Real.permission; } });
  Recorder.requestPermission = function () { window.__asked++; return Real.requestPermission(); };
  window.Notification = Recorder;
  HTMLMediaElement.prototype.play = function () { window.__plays.push(this.src); return Promise.resolve(); };
  window.__setHidden = function (hidden) {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: function () { return hidden ? "hidden" : "visible"; } });
    Object.defineProperty(document, "hidden", { configurable: true, get: function () { return hidden; } });
    document.dispatchEvent(new Event("visibilitychange"));
  };
})();`

// TestNotifications: alice is asked nothing on load; after she enables notifications (and the sound),
// a message while her tab is hidden shows one notification and one sound, and clicking it opens that
// conversation; once she mutes it, its messages neither notify nor sound (another conversation's
// still do) but still count as unread, and the mute is kept.
func TestNotifications(t *testing.T) {
	srv := startServer(t, "sqlite")
	browsers := newBrowsers(t, srv, browserOpts{}, "alice", "bob")
	a, b := browsers[0], browsers[1]
	a.register("alice", "Alice", "Archer", "1")
	b.register("bob", "Bob", "Baker", "2")
	bob := httpUserFrom(b)
	carol := newHTTPUser(t, srv)
	carol.register("carol", "Carol", "Cole")
	a.do("grant notifications, record them", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: "notifications"}, Setting: browser.PermissionSettingGranted, Origin: srv.URL}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: notificationProbe})
		return err
	}))
	a.open("/")
	a.waitSocket(1)
	a.waitJS("the notification and sound controls", `!document.getElementById("comfort").hidden && document.getElementById("notify-toggle").textContent === "Enable notifications" && document.getElementById("sound-toggle").getAttribute("aria-pressed") === "false"`)
	a.shot("controls")

	// Not enabled yet: a message while the tab is hidden shows nothing and plays nothing.
	evalJS[chromedp.Void](a, `window.__setHidden(true)`)
	bob.sendMessages("alice", "before enabling")
	a.waitJS("bob's message in alice's list", `document.querySelector('li[data-user="bob"]').textContent.indexOf("before enabling") >= 0`)
	if got := evalJS[map[string]float64](a, `({ notes: __notes.length, plays: __plays.length, asked: __asked })`); got["notes"] != 0 || got["plays"] != 0 || got["asked"] != 0 {
		a.fail("before alice enabled anything: %v notifications, %v sounds, permission asked %v times; want none", got["notes"], got["plays"], got["asked"])
	}

	evalJS[chromedp.Void](a, `window.__setHidden(false)`)
	a.click("Enable notifications", "#notify-toggle")
	a.waitJS("notifications on", `document.getElementById("notify-toggle").getAttribute("data-state") === "on" && __asked === 1`)
	a.click("Sound", "#sound-toggle")
	a.waitJS("the sound on", `document.getElementById("sound-toggle").getAttribute("aria-pressed") === "true"`)
	evalJS[chromedp.Void](a, `window.__setHidden(true)`)
	bob.sendMessages("alice", "hello hidden")
	a.waitJS("a notification of bob's message", `__notes.length === 1`)
	note := evalJS[map[string]string](a, `__notes[0]`)
	if note["title"] != "Bob Baker" || note["body"] != "hello hidden" {
		a.fail("the notification = %v; want bob's name and his message", note)
	}
	if plays := evalJS[[]string](a, `__plays`); len(plays) != 1 || !strings.Contains(plays[0], "/static/sounds/notify.wav") {
		a.fail("sounds played = %q; want the notification sound once", plays)
	}

	// Clicking it opens the conversation.
	evalJS[chromedp.Void](a, `window.__lastNote.onclick()`)
	a.waitPath("/chat/bob")
	a.waitSocket(1)

	// Muted: bob's messages neither notify nor sound, carol's still do; bob's still count as unread.
	a.click("Mute", "#mute-form button")
	a.waitJS("the conversation muted, marked in the list", `document.getElementById("mute-form").getAttribute("data-muted") === "true" && !document.querySelector('li[data-user="bob"] .muted-mark').hidden`)
	copyScreenshot(t, a.shot("muted"), "docs/screenshot-notifications.png")
	evalJS[chromedp.Void](a, `window.__setHidden(true)`)
	bob.sendMessages("alice", "while muted")
	carol.sendMessages("alice", "from carol")
	a.waitJS("a notification of carol's message", `__notes.length >= 1`)
	if notes := evalJS[[]map[string]string](a, `__notes`); len(notes) != 1 || notes[0]["title"] != "Carol Cole" {
		a.fail("notifications after muting bob = %v; want carol's only", notes)
	}
	if plays := evalJS[int](a, `__plays.length`); plays != 1 {
		a.fail("%d sounds after muting bob and a message from each; want 1, carol's", plays)
	}
	a.waitJS("bob's muted message counted unread", unreadJS("bob")+` === "1"`)
	if hidden := evalJS[bool](a, `document.querySelector('li[data-user="bob"] .muted-mark').hidden`); hidden {
		a.fail("bob's row lost its muted mark when his message moved it to the top")
	}

	a.do("reload", chromedp.Reload())
	a.waitJS("the mute and the settings kept after a reload", `document.getElementById("mute-form").getAttribute("data-muted") === "true" && !document.querySelector('li[data-user="bob"] .muted-mark').hidden && document.getElementById("notify-toggle").getAttribute("data-state") === "on" && document.getElementById("sound-toggle").getAttribute("aria-pressed") === "true"`)
	a.assertNoCSPViolations("after notifications")
}

// setTimezone makes the tab's reader live in a time zone (an IANA name).
func (p *tab) setTimezone(zone string) {
	p.t.Helper()
	p.do("set the time zone to "+zone, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
		return err
	}))
}

// jsonList is a list of strings as JSON.stringify writes it.
func jsonList(items []string) string {
	out := "["
	for i, s := range items {
		if i > 0 {
			out += ","
		}
		out += strconv.Quote(s)
	}
	return out + "]"
}
