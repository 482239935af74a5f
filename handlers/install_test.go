package handlers

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestInstallable: a browser signed out or in finds a web app manifest whose icons (192 and 512 px,
// "any" and "maskable") are served as PNGs of the size it names, and /favicon.ico is an icon.
func TestInstallable(t *testing.T) {
	ts := startServer(t, testOptions{})
	b := ts.browser()

	r := b.get("/manifest.webmanifest")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/manifest+json") {
		t.Fatalf("GET /manifest.webmanifest: %d %q, want 200 application/manifest+json", r.status, r.header.Get("Content-Type"))
	}
	var m struct {
		Name      string `json:"name"`
		ShortName string `json:"short_name"`
		StartURL  string `json:"start_url"`
		Display   string `json:"display"`
		Icons     []struct{ Src, Sizes, Type, Purpose string }
	}
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("the manifest is not JSON: %v\n%s", err, r.body)
	}
	if m.Name == "" || m.ShortName == "" || m.StartURL != "/" || m.Display != "standalone" {
		t.Errorf("manifest = %+v, want a name, a short name, start_url / and display standalone", m)
	}
	found := map[string]bool{}
	for _, icon := range m.Icons {
		r := b.get(icon.Src)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "image/png" {
			t.Errorf("GET %s: %d %q, want 200 image/png", icon.Src, r.status, r.header.Get("Content-Type"))
			continue
		}
		cfg, err := png.DecodeConfig(strings.NewReader(r.body))
		if err != nil {
			t.Errorf("%s is not a PNG: %v", icon.Src, err)
			continue
		}
		if got := strconv.Itoa(cfg.Width) + "x" + strconv.Itoa(cfg.Height); got != icon.Sizes {
			t.Errorf("%s is %s, the manifest says %s", icon.Src, got, icon.Sizes)
		}
		found[icon.Sizes+" "+icon.Purpose] = true
	}
	for _, want := range []string{"192x192 any", "512x512 any", "192x192 maskable", "512x512 maskable"} {
		if !found[want] {
			t.Errorf("the manifest has no %s icon: %+v", want, m.Icons)
		}
	}

	r = b.get("/favicon.ico")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "image/x-icon" || !bytes.HasPrefix([]byte(r.body), []byte{0, 0, 1, 0}) {
		t.Fatalf("GET /favicon.ico: %d %q (%d bytes), want 200 image/x-icon holding an ICO", r.status, r.header.Get("Content-Type"), len(r.body))
	}

	page := ts.browser().get("/login")
	if !strings.Contains(page.body, `<link rel="manifest" href="/manifest.webmanifest">`) {
		t.Errorf("the login page does not link the manifest")
	}
}
