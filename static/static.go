// Package static embeds the browser's files: compiled CSS, vendored htmx and its WebSocket extension,
// the small progressive-enhancement script, the icons and favicon.ico.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"sync"
)

//go:embed css/app.css vendor/*.js app.js icon.svg icons/*.png favicon.ico sounds/*.wav
var Files embed.FS

var versions = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	_ = fs.WalkDir(Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := Files.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[path] = hex.EncodeToString(sum[:6])
		return nil
	})
	return out
})

// URL is the address of an embedded file with a content hash, so browsers may cache it for good.
func URL(path string) string {
	return "/static/" + path + "?v=" + versions()[path]
}
