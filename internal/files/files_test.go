package files

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStorePutOpenRemove(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "attachments"))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("hello")
	sha := Sum(data)
	for range 2 { // the same bytes twice are one file
		if err := st.Put(sha, "", data); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(st.Dir(), sha[:2]))
	if len(entries) != 1 || entries[0].Name() != sha {
		t.Fatalf("directory holds %v, want only %s (no temporary files)", entries, sha)
	}
	f, err := st.Open(sha, "")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, bad := range []string{"../../etc/passwd", strings.Repeat("z", 64), ""} {
		if err := st.Put(bad, "", data); !errors.Is(err, ErrBadName) {
			t.Errorf("Put(%q): %v, want ErrBadName", bad, err)
		}
	}
	if err := st.Remove(sha); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Open(sha, ""); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Remove: %v", err)
	}
	if err := st.Remove(sha); err != nil {
		t.Fatalf("removing a removed file: %v", err)
	}
}

// An animated GIF keeps its frames and looping, and loses its comment, its XMP and what trails it.
func TestStripGIF(t *testing.T) {
	frame := func(c uint8) *image.Paletted {
		p := image.NewPaletted(image.Rect(0, 0, 4, 4), palette.Plan9)
		p.SetColorIndex(1, 1, c)
		return p
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{frame(1), frame(2)}, Delay: []int{10, 10}, LoopCount: 0}); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	// After the header and global palette: a comment and an XMP application extension.
	at := 13
	if raw[10]&0x80 != 0 {
		at += 3 << (raw[10]&7 + 1)
	}
	extra := []byte("\x21\xFE\x0Bsecret-note\x00")
	extra = append(extra, "\x21\xFF\x0BXMP DataXMP\x0Blocation-xy\x00"...)
	dirty := append(append(append(bytes.Clone(raw[:at]), extra...), raw[at:]...), "<html>"...)
	clean, err := stripGIF(dirty)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(clean, []byte("secret")) || bytes.Contains(clean, []byte("location")) || bytes.Contains(clean, []byte("<html>")) {
		t.Fatalf("metadata kept: %q", clean)
	}
	g, err := gif.DecodeAll(bytes.NewReader(clean))
	if err != nil || len(g.Image) != 2 || g.LoopCount != 0 {
		t.Fatalf("decoded: %v, %d frames", err, len(g.Image))
	}
}

func TestPrepare(t *testing.T) {
	im := NewImages(1000, 1)
	img := image.NewNRGBA(image.Rect(0, 0, 40, 20))
	img.Set(0, 0, color.White)
	var small bytes.Buffer
	_ = png.Encode(&small, img)
	p, err := im.Prepare(t.Context(), small.Bytes())
	if err != nil || p.ContentType != "image/png" || p.Width != 40 || p.Height != 20 || p.Thumb != nil {
		t.Fatalf("small png: %v %+v", err, p)
	}
	var big bytes.Buffer
	_ = png.Encode(&big, image.NewNRGBA(image.Rect(0, 0, 40, 30))) // 1,200 pixels: over this preparer's 1,000
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrEmpty},
		{"truncated", small.Bytes()[:len(small.Bytes())-20], ErrDamaged},
		{"over the pixel limit", big.Bytes(), ErrTooManyPixels},
		{"header only", small.Bytes()[:40], ErrDamaged},
	}
	for _, tc := range cases {
		if _, err := im.Prepare(t.Context(), tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	p, err = im.Prepare(t.Context(), []byte("<svg><script>alert(1)</script></svg>"))
	if err != nil || p.ContentType != "application/octet-stream" || p.Width != 0 {
		t.Errorf("svg: %v %+v", err, p)
	}
}
