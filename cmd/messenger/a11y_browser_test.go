package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestAccessibility: axe-core finds nothing serious or critical on any page, in the light and the dark
// theme; every control a keyboard reaches in a conversation shows that it has the focus; new messages
// are announced politely to screen readers.
func TestAccessibility(t *testing.T) {
	srv := startServer(t, "sqlite")
	browsers := newBrowsers(t, srv, browserOpts{}, "alice", "visitor")
	a, v := browsers[0], browsers[1]
	bob := newHTTPUser(t, srv)
	bob.register("bob", "Bob", "Baker")
	a.register("alice", "Alice", "Archer", "1")
	a.waitSocket(1)

	pages := []struct {
		tab  *tab
		path string
		wait string // true once the page shows what is checked
	}{
		{v, "/login", `!!document.querySelector('form[action="/login"]')`},
		{v, "/register", `!!document.querySelector('form[action="/register"]')`},
		{a, "/", unreadJS("bob") + ` === "1" && window.__ws && window.__ws.up`},
		{a, "/chat/bob", `document.querySelectorAll("#messages [data-message-id][data-sender=bob]").length > 0 && !!document.querySelector('#messages .receipt') && window.__ws && window.__ws.up`},
		{a, "/chat/nobody", `!!document.querySelector('[role="alert"]')`},
	}
	if code, _ := httpUserFrom(a).get("/settings"); code == http.StatusOK {
		pages = append(pages, struct {
			tab  *tab
			path string
			wait string
		}{a, "/settings", `!!document.querySelector("form")`})
	}
	for _, scheme := range []string{"light", "dark"} {
		for _, p := range []*tab{a, v} {
			p.emulateColorScheme(scheme)
		}
		bob.sendMessages("alice", "Hello Alice, how are you? ("+scheme+")") // an unread count in the list
		for _, pg := range pages {
			pg.tab.open(pg.path)
			if pg.path == "/chat/bob" && scheme == "light" {
				pg.tab.send("Fine, thanks!")
			}
			pg.tab.waitJS(pg.path, pg.wait)
			pg.tab.assertAccessible(pg.path + " (" + scheme + ")")
			if shot := pg.tab.shot(scheme + strings.ReplaceAll(pg.path, "/", "-")); pg.path == "/chat/bob" && scheme == "dark" {
				copyScreenshot(t, shot, "docs/screenshot-dark.png")
			}
		}
		// A failed sign-in shows its alert.
		v.open("/login")
		v.do("sign in with a wrong password", typeInto("#username", "alice"), typeInto("#password", "wrong password"))
		v.click("Sign in", `form[action="/login"] button[type=submit]`)
		v.waitJS("the sign-in error", `!!document.querySelector('form[action="/login"] [role="alert"]')`)
		v.assertAccessible("a failed sign-in (" + scheme + ")")
	}

	// Keyboard: every stop of the Tab key in a conversation shows the focus.
	a.emulateColorScheme("light")
	a.open("/chat/bob")
	a.waitSocket(1)
	a.waitJS("the conversation synced and read", `window.__ws.messages >= 1 && `+unreadJS("bob")+` === "0"`)
	// From the message field (focused on open): Tab to Send, then Shift+Tab back through the page.
	evalJS[chromedp.Void](a, `document.querySelector("form#composer #body").focus()`)
	var stops []string
	for len(stops) < 20 {
		if len(stops) == 0 {
			a.do("press Tab", chromedp.KeyEvent(kb.Tab))
		} else {
			a.do("press Shift+Tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(kb.ModifierShift)))
		}
		focus := evalJS[map[string]string](a, `(function () {
		  var e = document.activeElement, s = getComputedStyle(e);
		  return { el: e === document.body ? "" : e.tagName + (e.id ? "#" + e.id : "") + " " + (e.textContent || "").trim().slice(0, 30),
		           outline: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0 && s.outlineColor !== "rgba(0, 0, 0, 0)" ? "yes" : "",
		           shadow: s.boxShadow !== "none" ? "yes" : "" };
		})()`)
		if focus["el"] == "" {
			break // past the last stop, the focus leaves the page
		}
		stops = append(stops, focus["el"])
		if focus["outline"] == "" && focus["shadow"] == "" {
			a.fail("Tab stop %d, %s, shows no focus (no outline, no ring)", len(stops), focus["el"])
		}
	}
	if len(stops) < 4 {
		a.fail("the Tab key reached only %q in a conversation; want Log out, the user row, the message field and Send", stops)
	}

	// Screen readers: the live area of the conversation is polite, also after a catch-up replaced it.
	if !evalJS[bool](a, `(function () { var e = document.querySelector('#messages [id^="live-"]'); return !!e && e.getAttribute("aria-live") === "polite"; })()`) {
		a.fail("the area new messages arrive in is not aria-live=polite")
	}
}

func (p *tab) emulateColorScheme(scheme string) {
	p.t.Helper()
	p.do("emulate prefers-color-scheme: "+scheme, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
}

// assertAccessible runs axe-core (vendored for tests in testdata/axe; never served) on the page and
// fails on any serious or critical finding.
func (p *tab) assertAccessible(what string) {
	p.t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		p.t.Fatalf("read axe-core: %v", err)
	}
	evalJS[chromedp.Void](p, `window.axe || (function () { `+string(src)+`
	})()`)
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`axe.run(document, { resultTypes: ["violations"] }).then(function (r) {
	  return r.violations.filter(function (v) { return v.impact === "serious" || v.impact === "critical"; }).map(function (v) {
	    return v.impact + " " + v.id + " (" + v.help + "): " + v.nodes.map(function (n) { return n.target.join(" ") + " — " + n.failureSummary.replace(/\s+/g, " "); }).join("; ");
	  });
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		p.fail("run axe-core on %s: %v", what, err)
	}
	if len(found) > 0 {
		p.shot("axe")
		p.fail("axe-core finds %d serious or critical problems on %s:\n  %s", len(found), what, strings.Join(found, "\n  "))
	}
	p.t.Logf("axe-core: %s passes", what)
}
