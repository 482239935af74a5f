package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// MAX_SOCKETS in a real browser: a third tab closes the oldest with 4008; that page says why in an
// alert and does not reconnect (htmx-ext-ws reconnects only after 1006, 1011, 1012, 1013), so the
// tabs cannot take turns evicting each other: the other two stay connected on their first socket.
func TestTooManyTabsCloseTheOldestWithoutReconnecting(t *testing.T) {
	srv := startServer(t, "sqlite", "MAX_SOCKETS=2")
	first := newBrowser(t, srv, "bob", browserOpts{})
	first.register("bob", "Bob", "Baker", "2")
	first.waitSocket(1)
	second := first.newTab("bob-2")
	second.open("/")
	second.waitSocket(1)
	third := first.newTab("bob-3")
	third.open("/")
	third.waitSocket(1)

	first.waitJS("the oldest tab closed with 4008", `window.__ws.codes.indexOf(4008) >= 0`)
	first.waitJS("the oldest tab to say why", `(function () {
		var box = document.querySelector("#socket-error[role=alert]");
		return !!box && box.textContent.indexOf("too many other tabs") >= 0;
	})()`)
	if !evalJS[bool](first, `document.getElementById("connection").hidden`) {
		first.fail("the evicted tab says it is reconnecting, but it will not")
	}
	// A reconnect would come within htmx-ext-ws's first back-off (at most a second); watch for twice
	// that. Nothing may change: no new connection anywhere, no other tab closed.
	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		for _, p := range []*tab{first, second, third} {
			state := evalJS[map[string]any](p, `({connecting: window.__ws.connecting, closes: window.__ws.closes})`)
			wantCloses := 0.0
			if p == first {
				wantCloses = 1
			}
			if state["connecting"] != 1.0 || state["closes"] != wantCloses {
				p.fail("the tabs are evicting each other: %v (want 1 connection, %v closes)", state, wantCloses)
			}
		}
		time.Sleep(pollInterval)
	}
}

// An oversized frame from a browser closes its socket with 1009, every time, never 1006.
func TestOversizedFrameFromBrowserCloses1009(t *testing.T) {
	srv := startServer(t, "sqlite")
	p := newBrowser(t, srv, "bob", browserOpts{})
	p.register("bob", "Bob", "Baker", "2")
	p.waitSocket(1)
	evalJS[chromedp.Void](p, `(function () {
		window.__oversized = [];
		var big = "x".repeat(1 << 20);
		function once(left) {
			if (left === 0) return;
			var ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws");
			ws.onopen = function () { ws.send(JSON.stringify({to: "nobody", body: big})); };
			ws.onclose = function (e) { window.__oversized.push(e.code); once(left - 1); };
		}
		once(20);
	})()`)
	p.waitJSFor("20 oversized frames answered", `window.__oversized.length === 20`, 60*time.Second)
	codes := evalJS[[]int](p, `window.__oversized`)
	for i, code := range codes {
		if code != 1009 {
			t.Fatalf("oversized frame %d closed with %d, want 1009 (all: %v)", i, code, fmt.Sprint(codes))
		}
	}
}
