package handlers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// upload posts the composer's multipart form with a file, as a browser does without JavaScript (or,
// with headers, as htmx does).
func (b *browser) upload(to, body, filename string, data []byte, headers map[string]string) response {
	b.t.Helper()
	r, err := b.tryUpload(to, body, filename, data, headers)
	if err != nil {
		b.t.Fatalf("upload %s: %v", filename, err)
	}
	return r
}

// tryUpload is upload, returning the error of a request that got no answer.
func (b *browser) tryUpload(to, body, filename string, data []byte, headers map[string]string) (response, error) {
	b.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("_csrf", b.token("/chat/"+url.PathEscape(to)))
	_ = w.WriteField("body", body)
	_ = w.WriteField("client_id", newClientID())
	part, err := w.CreateFormFile("file", filename)
	if err != nil {
		b.t.Fatal(err)
	}
	_, _ = part.Write(data)
	_ = w.Close()
	req, err := http.NewRequest(http.MethodPost, b.ts.url+"/chat/"+url.PathEscape(to)+"/messages", &buf)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(out)}, nil
}

func pngBytes(t testing.TB, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngChunk is one PNG chunk with its CRC.
func pngChunk(kind string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, kind...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(kind), data...)))
}

// withChunkAfterIHDR puts a chunk right after a PNG's header chunk.
func withChunkAfterIHDR(p []byte, chunk []byte) []byte {
	const ihdrEnd = 8 + 12 + 13
	return append(append(bytes.Clone(p[:ihdrEnd]), chunk...), p[ihdrEnd:]...)
}

// jpegWithExif is a w x h JPEG carrying an EXIF block with the given orientation and a marker
// standing for the camera's location.
func jpegWithExif(t testing.TB, w, h int, orientation uint16, secret string) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(4 * x), 50, uint8(4 * y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	tiff := []byte("II*\x00\x08\x00\x00\x00")
	tiff = binary.LittleEndian.AppendUint16(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.LittleEndian.AppendUint16(tiff, 3)
	tiff = binary.LittleEndian.AppendUint32(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, orientation)
	tiff = append(tiff, 0, 0, 0, 0, 0, 0)
	payload := append(append([]byte("Exif\x00\x00"), tiff...), secret...)
	seg := append([]byte{0xFF, 0xE1}, binary.BigEndian.AppendUint16(nil, uint16(len(payload)+2))...)
	seg = append(seg, payload...)
	jpg := buf.Bytes()
	return append(append(bytes.Clone(jpg[:2]), seg...), jpg[2:]...)
}

var attachmentIDPattern = regexp.MustCompile(`data-attachment="(\d+)"`)

// lastAttachment is the id of the last attachment a page shows.
func lastAttachment(t testing.TB, page string) string {
	t.Helper()
	m := attachmentIDPattern.FindAllStringSubmatch(page, -1)
	if len(m) == 0 {
		t.Fatalf("no attachment on the page:\n%s", page)
	}
	return m[len(m)-1][1]
}

func storedFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Two people exchange a photo and a file: the recipient's page shows the preview with its size, the
// file is served only to the two of them with the headers that keep it inert, ranges and revalidation
// work, and the users list says "Photo".
func TestAttachmentSentAndServed(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		ts := startServer(t, testOptions{dialect: dialect})
		alice, bob, carol := ts.signedUp("alice"), ts.signedUp("bob"), ts.signedUp("carol")
		photo := pngBytes(t, 960, 480)
		if r := alice.upload("bob", "look", "beach.png", photo, nil); r.status != http.StatusSeeOther {
			t.Fatalf("upload: status %d\n%s", r.status, alertText(r.body))
		}
		page := bob.get("/chat/alice")
		id := lastAttachment(t, page.body)
		img := regexp.MustCompile(`<img[^>]*data-attachment="` + id + `"[^>]*>`).FindString(page.body)
		if !strings.Contains(img, `width="480"`) || !strings.Contains(img, `height="240"`) || !strings.Contains(img, `src="/attachments/`+id+`/thumb"`) {
			t.Fatalf("preview without its size or thumbnail: %s", img)
		}
		if !strings.Contains(page.body, ">look<") {
			t.Error("the text sent with the photo is missing")
		}
		if list := bob.get("/"); !strings.Contains(list.body, "Photo: look") {
			t.Error("the users list does not say Photo")
		}

		full := bob.get("/attachments/" + id)
		if full.status != http.StatusOK || full.body != string(photo) {
			t.Fatalf("full image: status %d, %d bytes (want %d)", full.status, len(full.body), len(photo))
		}
		for header, want := range map[string]string{
			"Content-Type":            "image/png",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": attachmentCSP,
			"Cache-Control":           "private, max-age=31536000, immutable",
			"Content-Disposition":     `inline; filename="beach.png"; filename*=UTF-8''beach.png`,
		} {
			if got := full.header.Get(header); got != want {
				t.Errorf("%s: %q, want %q", header, got, want)
			}
		}
		if n := len(full.header.Values("Content-Security-Policy")); n != 1 {
			t.Errorf("%d Content-Security-Policy headers", n)
		}
		thumb := bob.get("/attachments/" + id + "/thumb")
		if cfg, err := png.DecodeConfig(strings.NewReader(thumb.body)); err != nil || cfg.Width != 480 || cfg.Height != 240 {
			t.Errorf("thumbnail: %v, %dx%d", err, cfg.Width, cfg.Height)
		}
		if got := alice.get("/attachments/" + id); got.status != http.StatusOK {
			t.Errorf("the sender gets %d", got.status)
		}
		for _, path := range []string{"/attachments/" + id, "/attachments/" + id + "/thumb", "/attachments/99999", "/attachments/x", "/attachments/-1"} {
			if got := carol.get(path); got.status != http.StatusNotFound || strings.Contains(got.body, "\x89PNG") {
				t.Errorf("carol asks for %s: status %d", path, got.status)
			}
		}
		if got := ts.browser().get("/attachments/" + id); got.status == http.StatusOK {
			t.Error("signed out, the file is served")
		}
		part := bob.do(http.MethodGet, "/attachments/"+id, nil, map[string]string{"Range": "bytes=0-7"})
		if part.status != http.StatusPartialContent || part.body != string(photo[:8]) {
			t.Errorf("range: status %d, %q", part.status, part.body)
		}
		again := bob.do(http.MethodGet, "/attachments/"+id, nil, map[string]string{"If-None-Match": full.header.Get("ETag")})
		if full.header.Get("ETag") == "" || again.status != http.StatusNotModified {
			t.Errorf("revalidation with ETag %q: status %d", full.header.Get("ETag"), again.status)
		}

		// A file that is not an image, with no text: a download link with its name and size, served as
		// an opaque download.
		if r := bob.upload("alice", "", "notes.txt", []byte("hello, notes"), nil); r.status != http.StatusSeeOther {
			t.Fatalf("upload notes: status %d %s", r.status, alertText(r.body))
		}
		page = alice.get("/chat/bob")
		fileID := lastAttachment(t, page.body)
		link := regexp.MustCompile(`<a data-attachment="` + fileID + `"[^>]*>[\s\S]*?</a>`).FindString(page.body)
		if !strings.Contains(link, "notes.txt") || !strings.Contains(link, "12 B") || !strings.Contains(link, `href="/attachments/`+fileID+`"`) {
			t.Errorf("download link: %s", link)
		}
		dl := alice.get("/attachments/" + fileID)
		if dl.header.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(dl.header.Get("Content-Disposition"), "attachment;") {
			t.Errorf("text file served as %q, %q", dl.header.Get("Content-Type"), dl.header.Get("Content-Disposition"))
		}
		if list := alice.get("/"); !strings.Contains(list.body, "notes.txt") {
			t.Error("the users list does not name the file")
		}
	})
}

// Hostile files: a PNG carrying HTML is served as a PNG without it, an SVG with a script only as a
// download, a path for a name is only a name, and the location in a photo's EXIF is gone (the photo
// turned upright first).
func TestAttachmentHostileFiles(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testOptions{attachmentsDir: dir})
	alice, bob := ts.signedUp("alice"), ts.signedUp("bob")
	html := "<html><script>alert(document.cookie)</script></html>"
	polyglot := withChunkAfterIHDR(pngBytes(t, 8, 8), pngChunk("tEXt", []byte("Comment\x00"+html)))
	polyglot = append(polyglot, html...)
	svg := `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`
	exif := jpegWithExif(t, 40, 20, 6, "GPS 51.5N 0.12W")
	cases := []struct {
		name, filename string
		data           []byte
		check          func(t *testing.T, r response)
	}{
		{"png with html", "cat.png", polyglot, func(t *testing.T, r response) {
			if r.header.Get("Content-Type") != "image/png" || strings.Contains(r.body, "<script") {
				t.Errorf("served as %q, script kept: %v", r.header.Get("Content-Type"), strings.Contains(r.body, "<script"))
			}
		}},
		{"svg with script", "logo.svg", []byte(svg), func(t *testing.T, r response) {
			if r.header.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment;") {
				t.Errorf("svg served as %q, %q", r.header.Get("Content-Type"), r.header.Get("Content-Disposition"))
			}
		}},
		{"path as a name", "../../etc/passwd", []byte("root:x:0:0"), func(t *testing.T, r response) {
			if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="passwd"; filename*=UTF-8''passwd` {
				t.Errorf("Content-Disposition %q", cd)
			}
		}},
		{"exif", "IMG_0001.jpg", exif, func(t *testing.T, r response) {
			cfg, err := jpeg.DecodeConfig(strings.NewReader(r.body))
			if strings.Contains(r.body, "GPS") || strings.Contains(r.body, "Exif") || err != nil || cfg.Width != 20 || cfg.Height != 40 {
				t.Errorf("EXIF kept %v, %v, %dx%d (want upright 20x40)", strings.Contains(r.body, "GPS"), err, cfg.Width, cfg.Height)
			}
		}},
		{"non-ascii name", "résumé \"final\".pdf", []byte("%PDF-1.4"), func(t *testing.T, r response) {
			if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="r_sum_ _final_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf` {
				t.Errorf("Content-Disposition %q", cd)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := alice.upload("bob", "", tc.filename, tc.data, nil); r.status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.status, alertText(r.body))
			}
			r := bob.get("/attachments/" + lastAttachment(t, bob.get("/chat/alice").body))
			if r.status != http.StatusOK || r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("status %d, nosniff %q", r.status, r.header.Get("X-Content-Type-Options"))
			}
			tc.check(t, r)
		})
	}
	for _, p := range storedFiles(t, dir) {
		rel, _ := filepath.Rel(dir, p)
		if !regexp.MustCompile(`^[0-9a-f]{2}/[0-9a-f]{64}(\.thumb)?$`).MatchString(rel) {
			t.Errorf("a stored file is named %q", rel)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "..", "etc", "passwd")); err == nil && !strings.HasPrefix(dir, "/tmp") {
		t.Error("a file was written outside the attachments directory")
	}
}

// What is refused says why, keeps the text, and stores nothing: an empty file, a damaged image, a
// decompression bomb, one byte over the limit (exactly the limit is fine), over the quota, too many.
func TestAttachmentRefusals(t *testing.T) {
	const limit = 4096
	dir := t.TempDir()
	ts := startServer(t, testOptions{attachmentsDir: dir, attachments: AttachmentLimits{MaxUploadBytes: limit, Quota: 3 * limit, PerHour: 6}})
	alice := ts.signedUp("alice")
	ts.signedUp("bob")
	good := pngBytes(t, 16, 16)
	// 20,000 x 20,000 pixels in a few bytes: only its header is ever read.
	bomb := append(append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 20000), 20000), 8, 6, 0, 0, 0))...), pngChunk("IEND", nil)...)
	cases := []struct {
		name     string
		data     []byte
		status   int
		alert    string
		htmx     bool
		keepText bool
	}{
		{"empty file", nil, http.StatusUnprocessableEntity, "is empty", false, true},
		{"truncated image", good[:len(good)/2], http.StatusUnprocessableEntity, "damaged", false, true},
		{"decompression bomb", bomb, http.StatusUnprocessableEntity, "too large in pixels", false, true},
		{"one byte over", bytes.Repeat([]byte("x"), limit+1), http.StatusRequestEntityTooLarge, "at most 4.0 KB", false, true},
		{"one byte over, htmx", bytes.Repeat([]byte("x"), limit+1), http.StatusRequestEntityTooLarge, "at most 4.0 KB", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			headers := map[string]string{}
			if tc.htmx {
				headers["HX-Request"] = "true"
			}
			r := alice.upload("bob", "my caption", "f.png", tc.data, headers)
			if r.status != tc.status || !strings.Contains(alertText(r.body), tc.alert) {
				t.Fatalf("status %d, alert %q; want %d, %q", r.status, alertText(r.body), tc.status, tc.alert)
			}
			if !strings.Contains(r.body, ">my caption</textarea>") {
				t.Error("the typed text is gone")
			}
		})
	}
	if n := ts.countRows("attachments") + ts.countRows("messages"); n != 0 || len(storedFiles(t, dir)) != 0 {
		t.Fatalf("refused files left %d rows and %v", n, storedFiles(t, dir))
	}
	// Exactly the limit is accepted; then the quota (3 x limit) and the hourly count (6) run out.
	for i := range 3 {
		data := append(bytes.Repeat([]byte("y"), limit-1), byte(i))
		if r := alice.upload("bob", "", fmt.Sprintf("exact-%d.bin", i), data, nil); r.status != http.StatusSeeOther {
			t.Fatalf("a file of exactly the limit: status %d %s", r.status, alertText(r.body))
		}
	}
	r := alice.upload("bob", "one more", "more.bin", []byte("z"), nil)
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(alertText(r.body), "used your space for files") {
		t.Fatalf("over the quota: status %d, %q", r.status, alertText(r.body))
	}
	// Attempts that got as far as the count count, refused or not (the damaged image, the bomb, three
	// files, the one over the quota): the seventh is turned away.
	r = alice.upload("bob", "again", "more.bin", []byte("z"), nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(alertText(r.body), "many files") {
		t.Fatalf("over the hourly count: status %d, Retry-After %q, %q", r.status, r.header.Get("Retry-After"), alertText(r.body))
	}
	if got := ts.countRows("attachments"); got != 3 {
		t.Fatalf("%d attachments stored, want 3", got)
	}
}

// A body far over the limit is refused from its Content-Length, before it is read, with a page a
// person can read; other forms keep their small limit.
func TestUploadTooLargeRefusedEarly(t *testing.T) {
	ts := startServer(t, testOptions{attachments: AttachmentLimits{MaxUploadBytes: 1 << 20}})
	alice := ts.signedUp("alice")
	ts.signedUp("bob")
	r, err := alice.tryUpload("bob", "big", "big.bin", bytes.Repeat([]byte("b"), 2<<20), nil)
	if answeredOrReset(t, "2 MB upload", err) && (r.status != http.StatusRequestEntityTooLarge || alertText(r.body) == "") {
		t.Fatalf("2 MB upload: status %d, alert %q", r.status, alertText(r.body))
	}
	if n := ts.countRows("messages"); n != 0 {
		t.Fatalf("%d messages stored from a refused upload", n)
	}
	form := url.Values{"first_name": {strings.Repeat("a", 200<<10)}, "_csrf": {alice.token("/settings")}}
	req, err := http.NewRequest(http.MethodPost, ts.url+"/settings", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := alice.client.Do(req)
	if answeredOrReset(t, "a 200 KB settings form", err) {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("a 200 KB settings form: status %d", resp.StatusCode)
		}
	}
	if got := ts.countRows("users"); got != 2 {
		t.Fatalf("%d users", got)
	}
}

// answeredOrReset tells whether a body over the limit was answered (the caller checks the answer). The
// server answers 413 from the headers and closes without reading the body; whether the client reads
// that answer or first sees the connection reset (its write of the unread body) is a race of TCP, not
// of ours (a browser reports either, and the page's script says so: TestAttachmentsInBrowsers).
func answeredOrReset(t *testing.T, what string, err error) bool {
	t.Helper()
	if err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("%s: %v", what, err)
	}
	return err == nil
}

// With htmx the answer is the fresh composer and the message with its preview.
func TestAttachmentSentWithHTMX(t *testing.T) {
	ts := startServer(t, testOptions{})
	alice := ts.signedUp("alice")
	ts.signedUp("bob")
	r := alice.upload("bob", "", "dot.png", pngBytes(t, 4, 4), map[string]string{"HX-Request": "true"})
	if r.status != http.StatusOK || !regexp.MustCompile(`<img[^>]*data-attachment="\d+"[^>]*width="4" height="4"`).MatchString(r.body) {
		t.Fatalf("status %d:\n%s", r.status, r.body)
	}
	if !strings.Contains(r.body, `id="composer"`) || !strings.Contains(r.body, `name="file"`) {
		t.Error("no fresh composer with a file field")
	}
}

// Deleting a message deletes its attachment: nobody can fetch it after, and its file goes when no other
// message has the same bytes.
func TestDeletingAMessageRemovesItsAttachment(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testOptions{attachmentsDir: dir})
	alice, bob := ts.signedUp("alice"), ts.signedUp("bob")
	data := pngBytes(t, 600, 300) // with a thumbnail
	alice.upload("bob", "", "a.png", data, nil)
	bob.upload("alice", "", "b.png", data, nil)
	if n := len(storedFiles(t, dir)); n != 2 {
		t.Fatalf("%d files for one image sent twice, want 2 (the image and its preview)", n)
	}
	page := alice.get("/chat/bob").body
	ids := regexp.MustCompile(`data-message-id="(\d+)"`).FindAllStringSubmatch(page, -1)
	if len(ids) != 2 {
		t.Fatalf("%d messages", len(ids))
	}
	var first, second int64
	fmt.Sscan(ids[0][1], &first)
	fmt.Sscan(ids[1][1], &second)
	files := attachmentIDPattern.FindAllStringSubmatch(page, -1)
	if len(files) != 2 {
		t.Fatalf("%d attachments on the page, want 2", len(files))
	}
	firstFile := "/attachments/" + files[0][1]
	if r := alice.remove("bob", first); r.status != http.StatusSeeOther {
		t.Fatalf("delete: status %d", r.status)
	}
	for who, b := range map[string]*browser{"alice": alice, "bob": bob} {
		if r := b.get(firstFile); r.status != http.StatusNotFound {
			t.Fatalf("%s fetched a deleted message's file: status %d", who, r.status)
		}
	}
	if n := len(storedFiles(t, dir)); n != 2 {
		t.Fatalf("the file went while another message has it (%d files left)", n)
	}
	if r := bob.get("/attachments/" + lastAttachment(t, page)); r.status != http.StatusOK {
		t.Fatalf("the other copy: status %d", r.status)
	}
	if r := bob.remove("alice", second); r.status != http.StatusSeeOther {
		t.Fatalf("delete: status %d", r.status)
	}
	if files := storedFiles(t, dir); len(files) != 0 {
		t.Fatalf("files left after the last copy was deleted: %v", files)
	}
	if got := ts.countRows("attachments"); got != 0 {
		t.Fatalf("%d rows left", got)
	}
}
