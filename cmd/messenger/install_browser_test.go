package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestInstallableNarrowPhone: Chromium finds a valid web app manifest with its icons and nothing that
// keeps Messenger from being installed, and on a 320 px phone no page scrolls sideways.
func TestInstallableNarrowPhone(t *testing.T) {
	srv := startServer(t, "sqlite")
	bob := newHTTPUser(t, srv)
	bob.register("bob", "Bob", "Baker")
	p := newBrowser(t, srv, "alice-320", browserOpts{mobile: true, width: 320})

	p.open("/login")
	p.waitJS("the sign-in form", `!!document.querySelector('form[action="/login"]')`)
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	manifest, err := chromedp.Call(ctx, page.GetAppManifest, page.GetAppManifestParams{})
	if err != nil {
		p.fail("read the web app manifest: %v", err)
	}
	if !strings.HasSuffix(manifest.URL, "/manifest.webmanifest") || len(manifest.Errors) > 0 || manifest.Manifest == nil {
		p.fail("the page's manifest: url %q, errors %+v", manifest.URL, manifest.Errors)
	}
	var sizes []string
	for _, icon := range manifest.Manifest.Icons {
		sizes = append(sizes, icon.Sizes)
	}
	if slices.Sort(sizes); !slices.Equal(sizes, []string{"192x192", "192x192", "512x512", "512x512"}) {
		p.fail("the manifest Chromium read has icons of sizes %q, want 192 and 512, each \"any\" and \"maskable\"", sizes)
	}
	installable, err := chromedp.Call(ctx, page.GetInstallabilityErrors, cdp.Empty{})
	if err != nil {
		p.fail("ask whether the page is installable: %v", err)
	}
	for _, e := range installable.InstallabilityErrors {
		p.fail("Chromium would not install Messenger: %s", e.ErrorID)
	}
	if w := evalJS[int](p, `window.innerWidth`); w != 320 {
		p.fail("the phone viewport is %dpx wide, want 320", w)
	}
	p.assertNoHorizontalScroll("the sign-in page")
	p.assertEvenCardPadding("the sign-in page")
	p.shot("login")

	p.open("/register")
	p.waitJS("the registration form", `!!document.querySelector('form[action="/register"]')`)
	p.assertNoHorizontalScroll("the registration page")
	p.assertEvenCardPadding("the registration page")
	p.shot("register")
	p.register("alice", "Alice", "Archer", "1")
	p.waitJS("bob in the users list", `!!document.querySelector('li[data-user="bob"]')`)
	p.assertNoHorizontalScroll("the users list")
	p.shot("users-list")

	p.openChat("bob")
	p.waitSocket(1)
	p.send("Hello from a very small phone")
	p.waitJS("the message", hasMessageJS("alice", "Hello from a very small phone"))
	bob.sendMessages("alice", "Hi Alice, the small screen works")
	p.waitJS("bob's message, live", hasMessageJS("bob", "Hi Alice, the small screen works"))
	p.assertNoHorizontalScroll("the conversation")
	p.shot("chat")
}

// assertEvenCardPadding checks the space above the first thing in the page's .card equals the space
// on its left.
func (p *tab) assertEvenCardPadding(where string) {
	p.t.Helper()
	pad := evalJS[map[string]float64](p, `(function () {
	  var card = document.querySelector(".card").getBoundingClientRect();
	  var first = Array.from(document.querySelectorAll(".card form > *")).find(function (e) { return e.getClientRects().length > 0; }).getBoundingClientRect();
	  return { top: first.top - card.top, left: first.left - card.left };
	})()`)
	if d := pad["top"] - pad["left"]; d > 1 || d < -1 {
		p.fail("%s: the card's content starts %vpx from its top but %vpx from its left", where, pad["top"], pad["left"])
	}
}
