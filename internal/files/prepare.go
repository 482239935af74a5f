package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // registers the GIF decoder with image
	"image/jpeg"
	"image/png"
	"net/http"

	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers the WebP decoder with image
)

// Refusals of Prepare.
var (
	ErrEmpty         = errors.New("files: empty file")
	ErrTooManyPixels = errors.New("files: image over the pixel limit")
	ErrDamaged       = errors.New("files: image does not decode")
)

// ThumbBox bounds a preview: the largest side of a thumbnail, in pixels.
const ThumbBox = 480

// Prepared is a file ready to store: the bytes as they will be served and what pages show of them.
type Prepared struct {
	Data        []byte // images: without metadata (EXIF, XMP, comments), turned upright
	ContentType string // an image type only for an image that decoded, else application/octet-stream
	Width       int
	Height      int
	Thumb       []byte // a smaller preview of a large image; nil when the image itself is small
	ThumbWidth  int
	ThumbHeight int
}

// Images prepares uploads. Decoding is bounded: at most MaxPixels per image, read from the header
// before anything is decoded, and a few decodes at a time, so a burst of large photos cannot take all
// memory.
type Images struct {
	maxPixels int64
	slots     chan struct{}
}

// NewImages returns a preparer that refuses images over maxPixels and decodes at most workers at once.
func NewImages(maxPixels int64, workers int) *Images {
	return &Images{maxPixels: maxPixels, slots: make(chan struct{}, max(1, workers))}
}

// Prepare sniffs data (the content decides, never the name) and returns what to store. PNG, JPEG, GIF
// and WebP that decode become images; one of those types that does not decode is refused with
// ErrDamaged; anything else is stored as an opaque file.
func (im *Images) Prepare(ctx context.Context, data []byte) (Prepared, error) {
	if len(data) == 0 {
		return Prepared{}, ErrEmpty
	}
	kind := http.DetectContentType(data)
	strip, ok := strippers[kind]
	if !ok {
		return Prepared{Data: data, ContentType: "application/octet-stream"}, nil
	}
	// The header alone says how large the decoded image would be: refuse a decompression bomb before
	// allocating it.
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || "image/"+format != kind {
		return Prepared{}, ErrDamaged
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Prepared{}, ErrDamaged
	}
	if int64(cfg.Width)*int64(cfg.Height) > im.maxPixels {
		return Prepared{}, ErrTooManyPixels
	}
	select {
	case im.slots <- struct{}{}:
		defer func() { <-im.slots }()
	case <-ctx.Done():
		return Prepared{}, ctx.Err()
	}
	orientation := 1
	if kind == "image/jpeg" {
		orientation = jpegOrientation(data)
	}
	clean, err := strip(data)
	if err != nil {
		return Prepared{}, ErrDamaged
	}
	img, _, err := image.Decode(bytes.NewReader(clean))
	if err != nil {
		return Prepared{}, ErrDamaged
	}
	p := Prepared{Data: clean, ContentType: kind}
	if orientation > 1 && orientation <= 8 {
		img = orient(img, orientation)
		var out bytes.Buffer
		if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: 90}); err != nil {
			return Prepared{}, fmt.Errorf("files: re-encode: %w", err)
		}
		p.Data = out.Bytes()
	}
	b := img.Bounds()
	p.Width, p.Height = b.Dx(), b.Dy()
	p.ThumbWidth, p.ThumbHeight = p.Width, p.Height
	if max(p.Width, p.Height) > ThumbBox {
		if p.Thumb, p.ThumbWidth, p.ThumbHeight, err = thumbnail(img, kind); err != nil {
			return Prepared{}, err
		}
	}
	return p, nil
}

// thumbnail scales img to fit ThumbBox: JPEG for photos, PNG for what may be transparent.
func thumbnail(img image.Image, kind string) ([]byte, int, int, error) {
	b := img.Bounds()
	w, h := ThumbBox, ThumbBox
	if b.Dx() >= b.Dy() {
		h = max(1, b.Dy()*ThumbBox/b.Dx())
	} else {
		w = max(1, b.Dx()*ThumbBox/b.Dy())
	}
	// A quick halving pass first: a kernel over a 50-megapixel image would be slow, and CatmullRom on
	// twice the size is as sharp.
	src := img
	if b.Dx() > 2*w {
		mid := image.NewNRGBA(image.Rect(0, 0, 2*w, 2*h))
		xdraw.ApproxBiLinear.Scale(mid, mid.Bounds(), img, b, draw.Src, nil)
		src = mid
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	var out bytes.Buffer
	var err error
	if kind == "image/jpeg" {
		err = jpeg.Encode(&out, dst, &jpeg.Options{Quality: 82})
	} else {
		err = png.Encode(&out, dst)
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("files: thumbnail: %w", err)
	}
	return out.Bytes(), w, h, nil
}

// orient turns a decoded JPEG upright by its EXIF orientation (2-8), which stripping the EXIF would
// otherwise lose.
func orient(img image.Image, orientation int) image.Image {
	b := img.Bounds()
	src := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if orientation >= 5 {
		dw, dh = h, w
	}
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	for y := range h {
		for x := range w {
			var dx, dy int
			switch orientation {
			case 2: // mirrored
				dx, dy = w-1-x, y
			case 3: // upside down
				dx, dy = w-1-x, h-1-y
			case 4: // mirrored upside down
				dx, dy = x, h-1-y
			case 5: // transposed
				dx, dy = y, x
			case 6: // turned right
				dx, dy = h-1-y, x
			case 7: // transversed
				dx, dy = h-1-y, w-1-x
			case 8: // turned left
				dx, dy = y, w-1-x
			}
			copy(dst.Pix[dy*dst.Stride+dx*4:dy*dst.Stride+dx*4+4], src.Pix[y*src.Stride+x*4:y*src.Stride+x*4+4])
		}
	}
	return dst
}

// strippers remove metadata from each image type, keeping what the picture needs.
var strippers = map[string]func([]byte) ([]byte, error){
	"image/jpeg": stripJPEG,
	"image/png":  stripPNG,
	"image/gif":  stripGIF,
	"image/webp": stripWebP,
}
