package main

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestSearchInTheBrowser: the users list narrows as alice types (the field keeps its focus and text),
// the title counts unread messages live, and a message search opens the conversation at the message
// found, scrolled into view.
func TestSearchInTheBrowser(t *testing.T) {
	srv := startServer(t, "sqlite")
	a := newBrowser(t, srv, "alice", browserOpts{})
	a.register("alice", "Alice", "Archer", "1")
	bob, carol := newHTTPUser(t, srv), newHTTPUser(t, srv)
	bob.register("bob", "Bob", "Baker")
	carol.register("carol", "Carol", "Cooper")
	a.open("/")
	a.waitSocket(1)
	a.waitJS("bob and carol listed", `!!document.querySelector('li[data-user="bob"]') && !!document.querySelector('li[data-user="carol"]')`)
	if title := evalJS[string](a, `document.title`); title != "Chats · Messenger" {
		a.fail("title with nothing unread = %q", title)
	}

	a.do("type into the search field", typeInto(`form#user-search input[name=q]`, "coop"))
	a.waitJS("the list narrowed to carol, as typed", `!!document.querySelector('#user-list li[data-user="carol"]') && !document.querySelector('#user-list li[data-user="bob"]')`)
	kept := evalJS[map[string]string](a, `({ focus: document.activeElement ? document.activeElement.name : "", value: document.querySelector("form#user-search input[name=q]").value, search: location.search })`)
	if kept["focus"] != "q" || kept["value"] != "coop" || kept["search"] != "?q=coop" {
		a.fail("after typing: focus, text and address = %v; want the field focused with \"coop\" and ?q=coop", kept)
	}

	bodies := []string{"the pineapple recipe, as promised"}
	for i := range 59 {
		bodies = append(bodies, fmt.Sprintf("filler %d", i))
	}
	bob.sendMessages("alice", bodies...)
	a.waitJS("the title counting bob's 60 messages, live", `document.title === "(60) Chats · Messenger"`)
	if evalJS[bool](a, `!!document.querySelector('#user-list li[data-user="bob"]')`) {
		a.fail("bob's row was pushed into a list narrowed to carol")
	}

	a.do("search the messages", chromedp.Evaluate[chromedp.Void](`document.querySelector("form#user-search input[name=q]").value = "PINEAPPLE"`))
	a.click("Search messages", `form#user-search button[formaction="/search"]`)
	a.waitJS("one result, the word marked", `location.pathname === "/search" && document.querySelectorAll("#search-results [data-message-id]").length === 1 && document.querySelector("#search-results mark").textContent === "pineapple"`)
	a.click("the result", `#search-results [data-message-id] a`)
	a.waitJS("the conversation at the message, in view", `location.pathname === "/chat/bob" && location.search.indexOf("?at=") === 0 && (function () {
	  var el = document.querySelector("#messages [data-focus]");
	  if (!el || el.querySelector(".message-body").textContent !== "the pineapple recipe, as promised") return false;
	  var r = el.getBoundingClientRect();
	  return r.top >= 0 && r.bottom <= window.innerHeight;
	})()`)
	a.do("scroll down to the newer messages", chromedp.Evaluate[chromedp.Void](`document.querySelector('[id^="newer-"] a').scrollIntoView()`))
	a.waitJS("newer messages paged in below it", `Array.from(document.querySelectorAll("#messages [data-message-id]")).some(function (e) { return e.textContent.indexOf("filler 58") >= 0; })`)
	a.waitJS("the title without a count once read", `!/^\(\d+\) /.test(document.title)`)

	a.open("/")
	a.waitSocket(1)
	bob.sendMessages("alice", "one more")
	a.waitJS("the title counting the new message, live", `document.title === "(1) Chats · Messenger"`)
	a.assertNoCSPViolations("searching")
}
