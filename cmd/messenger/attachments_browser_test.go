package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/chromedp/chromedp"
)

// writeTestPNG writes a w x h PNG into dir and returns its path and bytes.
func writeTestPNG(t *testing.T, dir, name string, w, h int) (string, []byte) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 120, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, buf.Bytes()
}

// attach chooses a file in the composer, as the file picker would.
func (p *tab) attach(path string) {
	p.t.Helper()
	p.do("choose a file", chromedp.SetUploadFiles(chromedp.CSS(`form#composer input[type=file]`), []string{path}))
}

// imageShownJS is true once #messages shows a loaded preview from sender at the given size.
func imageShownJS(sender string, width, height int) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll('#messages [data-sender=%q] img[data-attachment]')).some(function (i) {
	  return i.complete && i.naturalWidth > 0 && i.getAttribute("width") === "%d" && i.getAttribute("height") === "%d"; })`, sender, width, height)
}

// fetchJS fetches the URL in attribute attr of the last element matching sel, from the page (with its
// cookies; a synchronous request, so the expression has a value), and returns the status, type and
// length.
func fetchJS(sel, attr string) string {
	return fmt.Sprintf(`(function () {
	  var els = document.querySelectorAll(%s); var x = new XMLHttpRequest();
	  x.open("GET", els[els.length - 1].getAttribute(%q), false);
	  x.overrideMimeType("text/plain; charset=x-user-defined");
	  x.send();
	  return { status: x.status, type: x.getResponseHeader("content-type"), size: x.responseText.length };
	})()`, jsString(sel), attr)
}

// Photos and files in real browsers, on both databases: with JavaScript the file is chosen and sent
// with a caption, the recipient's open page shows it as it arrives at its size, and the users list
// says "Photo"; without JavaScript the plain form sends a file alone and the page shows it. The file
// on disk survives a SIGKILL right after the upload returned.
func TestAttachmentsInBrowsers(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			const limit = 300_000
			srv := startServer(t, dialect, fmt.Sprintf("MAX_UPLOAD_BYTES=%d", limit))
			files := t.TempDir()
			photo, photoBytes := writeTestPNG(t, files, "holiday.png", 960, 600)
			big := filepath.Join(files, "big.bin")
			if err := os.WriteFile(big, bytes.Repeat([]byte("b"), limit+1), 0o600); err != nil || len(photoBytes) >= limit {
				t.Fatalf("test files: %v, photo of %d bytes", err, len(photoBytes))
			}
			tabs := newBrowsers(t, srv, browserOpts{}, "alice", "bob")
			alice, bob := tabs[0], tabs[1]
			plain := newBrowser(t, srv, "carol", browserOpts{noJS: true})
			alice.register("alice", "Alice", "Archer", "1")
			bob.register("bob", "Bob", "Baker", "2")
			plain.register("carol", "Carol", "Cole", "1")
			bob.open("/")
			bob.openChat("alice")
			bob.waitSocket(1)
			alice.open("/")
			alice.openChat("bob")
			alice.waitSocket(1)

			// With JavaScript: one byte over the limit is refused with a reason, the text and the file kept;
			// the file can be removed; a file dropped or pasted into the page is the one sent.
			alice.attach(big)
			alice.send("from the beach")
			alice.waitJS("the refusal, text and file kept", `(function () { var f = document.querySelector("form#composer");
			  var a = f.querySelector("[role=alert]"), i = f.querySelector("input[type=file]");
			  return !!a && a.textContent.indexOf("too large") >= 0 && f.querySelector("#body").value === "from the beach" &&
			    i.files.length === 1 && i.files[0].name === "big.bin" && f.querySelector(".attachment-chosen").textContent.indexOf("big.bin") >= 0; })()`)
			alice.click("Remove", `form#composer .attachment-chosen button`)
			alice.waitJS("no file chosen", `document.querySelector("form#composer input[type=file]").files.length === 0 && !document.querySelector(".attachment-chosen")`)
			evalJS[chromedp.Void](alice, `(function () { var dt = new DataTransfer(); dt.items.add(new File(["pasted"], "pasted.txt", {type: "text/plain"}));
			  document.querySelector("form#composer #body").dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true, cancelable: true})); })()`)
			alice.waitJS("the pasted file chosen", `document.querySelector("form#composer input[type=file]").files[0].name === "pasted.txt"`)
			// The photo itself is dropped on the conversation, replacing the pasted file.
			evalJS[chromedp.Void](alice, fmt.Sprintf(`(function () { var bytes = atob(%q), arr = new Uint8Array(bytes.length);
			  for (var i = 0; i < bytes.length; i++) arr[i] = bytes.charCodeAt(i);
			  var dt = new DataTransfer(); dt.items.add(new File([arr], "holiday.png", {type: "image/png"}));
			  document.querySelector("#messages").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true})); })()`,
				base64.StdEncoding.EncodeToString(photoBytes)))
			alice.waitJS("the dropped photo chosen", `document.querySelector("form#composer input[type=file]").files[0].name === "holiday.png"`)
			alice.click("Send", `form#composer button[type=submit]`)
			alice.waitJS("alice's own photo", imageShownJS("alice", 480, 300))
			bob.waitJS("alice's photo, live", imageShownJS("alice", 480, 300))
			bob.waitJS("the caption", hasMessageJS("alice", "from the beach"))
			got := evalJS[map[string]any](bob, fetchJS(`#messages a.attachment-image`, "href"))
			if got["status"] != 200.0 || got["type"] != "image/png" || got["size"] != float64(len(photoBytes)) {
				bob.fail("the full-size photo: %v", got)
			}
			alice.waitJS("an empty composer after the send", `document.querySelector("form#composer #body").value === "" &&
			  document.querySelector("form#composer input[type=file]").files.length === 0 && !document.querySelector(".attachment-chosen")`)
			alice.open("/")
			alice.waitJS(`"Photo" in alice's users list`, `document.querySelector('li[data-user="bob"]').textContent.indexOf("You: Photo: from the beach") >= 0`)

			// Without JavaScript: a file alone, by the plain form.
			notes := filepath.Join(files, "notes.txt")
			if err := os.WriteFile(notes, []byte("shopping list"), 0o600); err != nil {
				t.Fatal(err)
			}
			plain.open("/chat/bob")
			plain.attach(notes)
			plain.click("Send", `form#composer button[type=submit]`)
			plain.waitJS("carol's file after the redirect", `location.pathname === "/chat/bob" && !!document.querySelector('#messages [data-sender="carol"] a[data-attachment]')`)
			bob.open("/chat/carol")
			bob.waitJS("carol's file in bob's page", `(function () { var a = document.querySelector('#messages a[data-attachment]');
			  return !!a && a.textContent.indexOf("notes.txt") >= 0 && a.textContent.indexOf("13 B") >= 0; })()`)
			got = evalJS[map[string]any](bob, fetchJS(`#messages a[data-attachment]`, "href"))
			if got["status"] != 200.0 || got["type"] != "application/octet-stream" || got["size"] != 13.0 {
				bob.fail("the download: %v", got)
			}

			// The upload returned; the server is killed at once; the file is there when it is back.
			plain.attach(photo)
			plain.click("Send", `form#composer button[type=submit]`)
			plain.waitJS("carol's photo after the redirect", `!!document.querySelector('#messages [data-sender="carol"] img[data-attachment]')`)
			srv.restart(syscall.SIGKILL)
			plain.open("/chat/bob")
			got = evalJS[map[string]any](plain, fetchJS(`#messages a.attachment-image`, "href"))
			if got["status"] != 200.0 || got["size"] != float64(len(photoBytes)) {
				plain.fail("the photo after SIGKILL: %v", got)
			}
			alice.assertNoCSPViolations("after sending a photo")
			bob.assertNoCSPViolations("after receiving files")
		})
	}
}
