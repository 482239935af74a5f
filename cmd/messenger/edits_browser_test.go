package main

import (
	"fmt"
	"testing"
)

// messageJS is a JavaScript expression for the element of message id in #messages.
func messageJS(id string) string {
	return fmt.Sprintf(`document.querySelector('#messages [data-message-id="%s"]')`, id)
}

// lastMessageID is the id of the newest message the page shows.
func (p *tab) lastMessageID() string {
	p.t.Helper()
	msgs := p.messages()
	if len(msgs) == 0 {
		p.fail("no message on the page")
	}
	return msgs[len(msgs)-1].ID
}

// replaceText empties a text field and types text into it, as a person selecting all and typing.
func (p *tab) replaceText(css, text string) {
	p.t.Helper()
	evalJSVoid(p, `document.querySelector(`+jsString(css)+`).value = ""`)
	p.do("type into "+css, typeInto(css, text))
}

// aliceWroteToBob starts a browser each for alice and bob, both registered; alice opens their
// conversation and sends text. It returns both tabs and the message's id.
func aliceWroteToBob(t *testing.T, opts browserOpts, text string) (a, b *tab, id string) {
	t.Helper()
	srv := startServer(t, "sqlite")
	browsers := newBrowsers(t, srv, opts, "alice", "bob")
	a, b = browsers[0], browsers[1]
	a.register("alice", "Alice", "Archer", "1")
	b.register("bob", "Bob", "Baker", "2")
	a.open("/")
	a.openChat("bob")
	if !opts.noJS {
		a.waitSocket(1)
	}
	a.send(text)
	a.waitJS("alice's message", hasMessageJS("alice", text))
	return a, b, a.lastMessageID()
}

func evalJSVoid(p *tab, expr string) {
	p.t.Helper()
	evalJS[bool](p, "("+expr+", true)")
}

// TestEditAndDeleteLive: alice fixes a typo in place and then deletes the message; bob, with the
// conversation open, sees both at once, with no reload, and his users list's preview follows.
func TestEditAndDeleteLive(t *testing.T) {
	a, b, id := aliceWroteToBob(t, browserOpts{}, "Helo Bob")
	b.open("/")
	b.openChat("alice")
	b.waitJS("alice's message in bob's conversation", hasMessageJS("alice", "Helo Bob"))
	b.waitSocket(1)
	b.mark()
	if evalJS[bool](b, messageJS(id)+`.querySelector("[data-edit], [data-delete]") !== null`) {
		b.fail("bob is offered to edit or delete alice's message")
	}

	a.click("Edit", fmt.Sprintf(`#m-%s a[data-edit]`, id))
	a.waitJS("the edit form in place of the message", fmt.Sprintf(`!!document.querySelector('form[data-edit-form="%s"] textarea')`, id))
	a.shot("editing")
	a.replaceText(fmt.Sprintf(`#edit-body-%s`, id), "Hello Bob\r") // Enter saves
	a.waitJS("the edited message with its mark", messageJS(id)+`?.getAttribute("data-edited") === "true" && `+hasMessageJS("alice", "Hello Bob"))
	b.waitJS("the edit in bob's open conversation, live", messageJS(id)+`?.getAttribute("data-edited") === "true" && `+hasMessageJS("alice", "Hello Bob"))
	b.waitJS("the edited preview in bob's list", `document.querySelector('li[data-user="alice"]').textContent.indexOf("Hello Bob") >= 0`)
	b.assertNotReloaded("the edit")
	b.shot("edited")

	// hx-confirm asks first; the test answers yes, as the person would, and keeps the question.
	evalJSVoid(a, `window.confirm = function (q) { window.__asked = q; return true; }`)
	a.click("Delete", fmt.Sprintf(`#m-%s a[data-delete]`, id))
	a.waitJS("the deleted message's placeholder", messageJS(id)+`?.getAttribute("data-deleted") === "true" && !`+hasMessageJS("alice", "Hello Bob"))
	if q := evalJS[string](a, `window.__asked || ""`); q == "" {
		a.fail("the deletion did not ask for confirmation")
	}
	b.waitJS("the deletion in bob's open conversation, live", messageJS(id)+`?.getAttribute("data-deleted") === "true" && `+messageJS(id)+`.textContent.indexOf("Hello Bob") < 0`)
	b.waitJS("the preview in bob's list", `document.querySelector('li[data-user="alice"]').textContent.indexOf("Message deleted") >= 0`)
	b.assertNotReloaded("the deletion")
	b.shot("deleted")
	a.assertNoCSPViolations("after editing and deleting")
	b.assertNoCSPViolations("after editing and deleting")
}

// TestEditAndDeleteWithoutJavaScript: the same with scripts off, by an edit page and a confirmation
// page.
func TestEditAndDeleteWithoutJavaScript(t *testing.T) {
	a, b, id := aliceWroteToBob(t, browserOpts{noJS: true}, "Helo Bob")

	a.click("Edit", fmt.Sprintf(`#m-%s a[data-edit]`, id))
	a.waitJS("the edit page", fmt.Sprintf(`location.pathname === "/chat/bob/messages/%s/edit" && !!document.querySelector("form[data-edit-form] textarea")`, id))
	evalJSVoid(a, `document.querySelector("form[data-edit-form] textarea").value = "Hello Bob"`)
	a.shot("edit-page")
	a.click("Save", `form[data-edit-form] button[type=submit]`)
	a.waitJS("the conversation with the edited message", `location.pathname === "/chat/bob" && `+messageJS(id)+`?.getAttribute("data-edited") === "true" && `+hasMessageJS("alice", "Hello Bob"))

	a.click("Delete", fmt.Sprintf(`#m-%s a[data-delete]`, id))
	a.waitJS("the confirmation page", fmt.Sprintf(`location.pathname === "/chat/bob/messages/%s/delete" && !!document.querySelector("form[data-delete-form]")`, id))
	a.shot("delete-confirmation")
	a.click("Delete", `form[data-delete-form] button[type=submit]`)
	a.waitJS("the conversation with the placeholder", `location.pathname === "/chat/bob" && `+messageJS(id)+`?.getAttribute("data-deleted") === "true" && !`+hasMessageJS("alice", "Hello Bob"))

	b.open("/chat/alice")
	b.waitJS("the placeholder in bob's conversation", messageJS(id)+`?.getAttribute("data-deleted") === "true" && `+messageJS(id)+`.textContent.indexOf("Hello Bob") < 0`)
	b.waitJS("the preview in bob's list", `document.querySelector('li[data-user="alice"]').textContent.indexOf("Message deleted") >= 0`)
}

// TestReplyLive: bob answers alice's message from its Reply link (a chip over the composer, which he
// can cancel); both see the quote at once, and clicking it goes to the original.
func TestReplyLive(t *testing.T) {
	a, b, id := aliceWroteToBob(t, browserOpts{}, "Shall we meet at noon?")
	a.mark()
	b.open("/")
	b.openChat("alice")
	b.waitJS("alice's question in bob's conversation", hasMessageJS("alice", "Shall we meet at noon?"))
	b.waitSocket(1)

	const chipShown = `!document.querySelector("#reply-chip").hidden`
	b.click("Reply", fmt.Sprintf(`#m-%s a[data-reply]`, id))
	b.waitJS("the reply chip with the quote", chipShown+` && document.querySelector("#reply-chip").textContent.indexOf("Shall we meet") >= 0`)
	b.click("cancel the reply", `#reply-chip a[data-reply-cancel]`)
	b.waitJS("the chip gone", `!(`+chipShown+`) && document.querySelector("#reply-to").value === ""`)
	b.click("Reply", fmt.Sprintf(`#m-%s a[data-reply]`, id))
	b.waitJS("the reply chip again", chipShown)
	b.shot("replying")
	b.send("Noon works")
	reply := fmt.Sprintf(`document.querySelector('#messages [data-reply-to="%s"][data-sender="bob"]')`, id)
	quote := reply + `?.querySelector("a[data-quote]")?.textContent.indexOf("Shall we meet at noon?") >= 0`
	b.waitJS("bob's reply quoting alice", quote)
	b.waitJS("the composer without the chip after sending", `!(`+chipShown+`)`)
	a.waitJS("bob's reply quoting alice in her conversation, live", quote)
	a.assertNotReloaded("the reply")
	a.shot("reply")
	a.click("the quote", fmt.Sprintf(`#messages [data-reply-to="%s"] a[data-quote]`, id))
	a.waitJS("the original as the page's target", fmt.Sprintf(`location.hash === "#m-%s"`, id))
	a.assertNoCSPViolations("after the reply")
	b.assertNoCSPViolations("after the reply")
}

// TestReplyWithoutJavaScript: the Reply link opens the conversation with the composer replying.
func TestReplyWithoutJavaScript(t *testing.T) {
	a, b, id := aliceWroteToBob(t, browserOpts{noJS: true}, "Shall we meet at noon?")

	b.open("/chat/alice")
	b.click("Reply", fmt.Sprintf(`#m-%s a[data-reply]`, id))
	b.waitJS("the composer replying", fmt.Sprintf(`location.search === "?reply_to=%s" && !document.querySelector("#reply-chip").hidden && document.querySelector("#reply-to").value === "%s"`, id, id))
	b.shot("replying")
	b.send("Noon works")
	replyJS := fmt.Sprintf(`!!document.querySelector('#messages [data-reply-to="%s"][data-sender="bob"] a[data-quote]')`, id)
	b.waitJS("bob's reply quoting alice after post/redirect/get", `location.pathname === "/chat/alice" && `+replyJS)
	a.open("/chat/bob")
	a.waitJS("bob's reply quoting alice in her conversation", replyJS)
}
