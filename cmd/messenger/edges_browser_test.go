package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestRoughEdges: what a first-day user tripped over. "last seen" in the reader's time zone, the
// typing note by display name, Send with nothing to send stays in the page, a chat breaks no CSP rule,
// and a dropped connection says "Reconnecting…" until it is back.
func TestRoughEdges(t *testing.T) {
	srv := startServer(t, "sqlite")
	browsers := newBrowsers(t, srv, browserOpts{}, "alice", "bob")
	a, b := browsers[0], browsers[1]
	// Alice reads in India (UTC+05:30), so a time shown in UTC cannot pass for her local time.
	a.setTimezone("Asia/Kolkata")
	a.register("alice", "Alice", "Archer-Montgomery-Fitzwilliam", "1")
	b.register("bob", "Bob", "Baker", "2")
	b.waitSocket(1)
	a.open("/")
	// A long name is cut short in the 384 px sidebar; "Log out" stays on one line.
	logout := evalJS[map[string]float64](a, `(function () {
	  var r = document.createRange(); r.selectNodeContents(document.querySelector('form[action="/logout"] button'));
	  return { lines: r.getClientRects().length, sidebar: document.querySelector("aside").getBoundingClientRect().width };
	})()`)
	if logout["lines"] != 1 || logout["sidebar"] != 384 {
		a.fail("\"Log out\" takes %v lines in the %vpx sidebar; want 1 line in 384px", logout["lines"], logout["sidebar"])
	}
	a.openChat("bob")
	a.waitSocket(1)
	a.mark()

	// "last seen" once bob has left, in alice's local time, as a <time> element.
	b.open("about:blank")
	status := `document.querySelector('[id^="status-"]')`
	a.waitJSFor("bob's status to say \"last seen\" at alice's, live", status+`.textContent.indexOf("last seen") >= 0`, 15*time.Second)
	seen := evalJS[map[string]string](a, `(function () {
	  var t = `+status+`.querySelector("time[datetime]");
	  if (!t) return {};
	  var d = new Date(t.getAttribute("datetime"));
	  return { shown: t.textContent, datetime: t.getAttribute("datetime"),
	           local: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }).format(d),
	           utc: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", timeZone: "UTC" }).format(d) };
	})()`)
	if seen["shown"] == "" || seen["shown"] != seen["local"] || seen["local"] == seen["utc"] {
		a.fail("bob's \"last seen\" = %v; want a <time datetime> showing alice's local time (UTC+05:30)", seen)
	}
	a.assertNotReloaded("bob's last seen")
	a.shot("last-seen-local")

	// Typing, by display name; the partner's gender beside their name.
	b.open("/chat/alice")
	b.waitSocket(1)
	if g := evalJS[string](b, `(function () { var e = document.querySelector("#chat header h1 [data-gender]"); return e ? e.textContent : ""; })()`); g != "Female" {
		b.fail("alice's gender beside her name in bob's conversation = %q, want \"Female\"", g)
	}
	b.waitJS("bob's conversation synced", `window.__ws.messages >= 1`)
	typing := `Array.from(document.querySelectorAll('[id^="typing-"]')).some(function (e) { return e.textContent.indexOf("Bob Baker is typing") >= 0; })`
	for deadline := time.Now().Add(10 * time.Second); !evalJS[bool](a, typing); {
		if time.Now().After(deadline) {
			a.fail("alice never saw \"Bob Baker is typing\"")
		}
		b.typeMessage("typing ")
	}
	evalJS[chromedp.Void](b, `document.querySelector("form#composer #body").value = ""`)

	// Send with an empty composer, then with blanks: nothing leaves the page, no alert, text kept.
	evalJS[chromedp.Void](a, `window.__requests = 0; document.addEventListener("htmx:beforeSend", function () { window.__requests++; }, true)`)
	for _, text := range []string{"", "   "} {
		if text != "" {
			a.typeMessage(text)
		}
		a.click("Send", `form#composer button[type=submit]`)
		a.typeMessage("\r") // Enter sends too
		got := evalJS[map[string]any](a, `({ requests: window.__requests, alerts: document.querySelectorAll("form#composer [role=alert]").length,
		  invalid: document.querySelector("form#composer #body").matches(":invalid"), value: document.querySelector("form#composer #body").value })`)
		// (DevTools' key events insert the Enter's newline even though the page cancels the keydown.)
		if got["requests"] != 0.0 || got["alerts"] != 0.0 || got["invalid"] != true || strings.ReplaceAll(got["value"].(string), "\n", "") != text {
			a.fail("Send with %q: %v; want no request, no alert, the field invalid and the text kept", text, got)
		}
	}
	a.assertNotReloaded("Send with nothing to send")
	evalJS[chromedp.Void](a, `document.querySelector("form#composer #body").value = ""`)

	// A chat breaks no CSP rule: a composer grown to several lines is sent and swapped for a fresh one.
	evalJS[chromedp.Void](a, `(function () { var t = document.querySelector("form#composer #body");
	  t.value = "one\ntwo\nthree\nfour"; t.dispatchEvent(new Event("input", { bubbles: true })); })()`)
	if rows := evalJS[int](a, `document.querySelector("form#composer #body").rows`); rows < 4 {
		a.fail("the composer holds 4 lines in %d rows; it grows with its text", rows)
	}
	a.click("Send", `form#composer button[type=submit]`)
	a.waitJS("alice's four-line message", hasMessageJS("alice", "one\ntwo\nthree\nfour"))
	a.waitJS("a fresh one-row composer", `document.querySelector("form#composer #body").value === "" && document.querySelector("form#composer #body").rows === 1`)
	for i := range 3 {
		a.send(fmt.Sprintf("message %d", i))
		a.waitJS("the message", hasMessageJS("alice", fmt.Sprintf("message %d", i)))
		b.send(fmt.Sprintf("reply %d", i))
		a.waitJS("bob's reply", hasMessageJS("bob", fmt.Sprintf("reply %d", i)))
	}
	a.assertNoCSPViolations("after a chat")
	b.assertNoCSPViolations("after a chat")

	// The server goes away: "Reconnecting…" until the page's socket is back.
	connection := `(function () { var e = document.getElementById("connection"); return !!e && !e.hidden && e.getClientRects().length > 0 && e.textContent.indexOf("Reconnecting") >= 0; })()`
	if evalJS[bool](a, connection) {
		a.fail("\"Reconnecting…\" shows while the socket is up")
	}
	opens := a.socketOpens()
	srv.stop(syscall.SIGTERM)
	a.waitJS("\"Reconnecting…\" while the server is down", connection)
	a.shot("reconnecting")
	srv.launch()
	a.waitSocket(opens + 1)
	a.waitJS("\"Reconnecting…\" gone once the socket is back", `!(`+connection+`)`)
	a.assertNotReloaded("the reconnect")
	a.assertNoCSPViolations("after the reconnect")
}
