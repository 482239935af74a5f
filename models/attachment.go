package models

import (
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Attachment is a file sent with a message. The bytes live on disk under their SHA-256; the row holds
// what pages show. ContentType is what the content was sniffed as (never what the name says): an
// image type only for an image that decoded, else application/octet-stream.
type Attachment struct {
	AttachmentID int64 `gorm:"primaryKey"`
	MessageID    int64
	UploaderID   int64
	SHA256       string `gorm:"column:sha256"`
	Name         string
	Size         int64
	ContentType  string
	Width        int // an image's pixels, as served; 0 for other files
	Height       int
	ThumbWidth   int // the preview's pixels (the image's own when it is small)
	ThumbHeight  int
	CreatedAt    time.Time
}

// IsImage reports whether the attachment is shown as a picture: one of the types served inline.
func (a Attachment) IsImage() bool { return InlineImageType(a.ContentType) }

// InlineImageType reports whether content of this sniffed type is shown and served as an image.
// Nothing else is ever served inline (no SVG, no HTML).
func InlineImageType(contentType string) bool {
	switch contentType {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}

// AttachmentNameMaxLen bounds a file's display name, in runes.
const AttachmentNameMaxLen = 200

// CleanFileName turns the name a browser sent into a display name: its last path element (either
// slash), without control or invalid characters, trimmed and shortened. It is only ever shown, never
// used as a path. An empty result becomes "file".
func CleanFileName(raw string) string {
	raw = strings.ToValidUTF8(raw, "")
	raw = raw[strings.LastIndexAny(raw, `/\`)+1:]
	var b strings.Builder
	for _, r := range raw {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			continue
		}
		b.WriteRune(r)
	}
	name := strings.TrimSpace(b.String())
	name = strings.Trim(name, ". ")
	if r := []rune(name); len(r) > AttachmentNameMaxLen {
		ext := path.Ext(name)
		if len([]rune(ext)) > 20 {
			ext = ""
		}
		name = string(r[:AttachmentNameMaxLen-len([]rune(ext))]) + ext
	}
	if name == "" {
		return "file"
	}
	return name
}

// HumanSize writes a byte count the way people read it: 512 B, 12 KB, 3.4 MB.
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	value, suffix := float64(n)/unit, "KB"
	for _, s := range []string{"MB", "GB", "TB"} {
		if value < unit {
			break
		}
		value, suffix = value/unit, s
	}
	if value < 10 {
		return strconv.FormatFloat(value, 'f', 1, 64) + " " + suffix
	}
	return strconv.FormatFloat(value, 'f', 0, 64) + " " + suffix
}
