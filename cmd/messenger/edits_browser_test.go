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

func evalJSVoid(p *tab, expr string) {
	p.t.Helper()
	evalJS[bool](p, "("+expr+", true)")
}

// TestEditAndDeleteLive: alice fixes a typo in place and then deletes the message; bob, with the
// conversation open, sees both at once, with no reload, and his users list's preview follows.
func TestEditAndDeleteLive(t *testing.T) {
	srv := startServer(t, "sqlite")
	browsers := newBrowsers(t, srv, browserOpts{}, "alice", "bob")
	a, b := browsers[0], browsers[1]
	a.register("alice", "Alice", "Archer", "1")
	b.register("bob", "Bob", "Baker", "2")
	a.open("/")
	a.openChat("bob")
	a.waitSocket(1)
	a.send("Helo Bob")
	a.waitJS("alice's message", hasMessageJS("alice", "Helo Bob"))
	id := a.lastMessageID()
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
	srv := startServer(t, "sqlite")
	browsers := newBrowsers(t, srv, browserOpts{noJS: true}, "alice", "bob")
	a, b := browsers[0], browsers[1]
	a.register("alice", "Alice", "Archer", "1")
	b.register("bob", "Bob", "Baker", "2")
	a.open("/")
	a.openChat("bob")
	a.send("Helo Bob")
	a.waitJS("alice's message after post/redirect/get", hasMessageJS("alice", "Helo Bob"))
	id := a.lastMessageID()

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
