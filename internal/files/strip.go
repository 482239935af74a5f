package files

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

var errFormat = errors.New("files: malformed image")

// stripJPEG keeps the segments a JPEG needs to be shown (JFIF, the ICC profile, Adobe's color
// transform, tables, frames, scans) and drops the rest: EXIF (camera, time, location), XMP, IPTC,
// comments, and anything after the end of the image.
func stripJPEG(data []byte) ([]byte, error) {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil, errFormat
	}
	out := bytes.NewBuffer(make([]byte, 0, len(data)))
	out.Write(data[:2])
	i := 2
	for {
		if i+4 > len(data) || data[i] != 0xFF {
			return nil, errFormat
		}
		marker := data[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		end := i + 2 + n
		if n < 2 || end > len(data) {
			return nil, errFormat
		}
		if marker == 0xDA { // start of scan: the image data follows, up to the end-of-image marker
			eoi := bytes.Index(data[end:], []byte{0xFF, 0xD9})
			if eoi < 0 {
				return nil, errFormat
			}
			out.Write(data[i : end+eoi+2])
			return out.Bytes(), nil
		}
		if keepJPEGSegment(marker, data[i+4:end]) {
			out.Write(data[i:end])
		}
		i = end
	}
}

func keepJPEGSegment(marker byte, payload []byte) bool {
	switch {
	case marker == 0xE0: // JFIF
		return true
	case marker == 0xE2:
		return bytes.HasPrefix(payload, []byte("ICC_PROFILE\x00"))
	case marker == 0xEE: // Adobe: how to read the color components
		return bytes.HasPrefix(payload, []byte("Adobe"))
	case marker >= 0xE1 && marker <= 0xEF, marker == 0xFE: // other APPn (EXIF, XMP, IPTC), comments
		return false
	}
	return true
}

// jpegOrientation reads the EXIF orientation of a JPEG (1 when it has none).
func jpegOrientation(data []byte) int {
	for i := 2; i+4 <= len(data) && data[i] == 0xFF; {
		marker, n := data[i+1], int(binary.BigEndian.Uint16(data[i+2:]))
		end := i + 2 + n
		if marker == 0xDA || n < 2 || end > len(data) {
			break
		}
		if p := data[i+4 : end]; marker == 0xE1 && bytes.HasPrefix(p, []byte("Exif\x00\x00")) {
			return tiffOrientation(p[6:])
		}
		i = end
	}
	return 1
}

// tiffOrientation finds tag 0x0112 in the first IFD of an EXIF TIFF block.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var order binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1
	}
	ifd := int(order.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > len(t) {
		return 1
	}
	count := int(order.Uint16(t[ifd:]))
	for k := range count {
		e := ifd + 2 + 12*k
		if e+12 > len(t) {
			break
		}
		if order.Uint16(t[e:]) == 0x0112 {
			if v := int(order.Uint16(t[e+8:])); v >= 1 && v <= 8 {
				return v
			}
		}
	}
	return 1
}

// pngKeep are the chunks a PNG (or APNG) needs to be shown as intended; text chunks, eXIf, tIME and
// anything unknown are dropped, as is whatever follows IEND.
var pngKeep = map[string]bool{"IHDR": true, "PLTE": true, "IDAT": true, "IEND": true, "tRNS": true, "gAMA": true,
	"cHRM": true, "sRGB": true, "iCCP": true, "sBIT": true, "bKGD": true, "pHYs": true, "acTL": true, "fcTL": true, "fdAT": true}

func stripPNG(data []byte) ([]byte, error) {
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(data, []byte(sig)) {
		return nil, errFormat
	}
	out := bytes.NewBuffer(make([]byte, 0, len(data)))
	out.WriteString(sig)
	for i := len(sig); ; {
		if i+12 > len(data) {
			return nil, errFormat
		}
		n := int(binary.BigEndian.Uint32(data[i:]))
		end := i + 12 + n
		if n < 0 || end > len(data) || end < i {
			return nil, errFormat
		}
		kind := string(data[i+4 : i+8])
		if crc32.ChecksumIEEE(data[i+4:i+8+n]) != binary.BigEndian.Uint32(data[i+8+n:]) {
			return nil, errFormat
		}
		if pngKeep[kind] {
			out.Write(data[i:end])
		}
		if kind == "IEND" {
			return out.Bytes(), nil
		}
		i = end
	}
}

// gifFrameArea bounds the pixels of all a GIF's frames together: each frame is checked against the
// picture's size, but a small file can hold very many frames, each decoded in turn.
const gifFrameArea = 1 << 28

// stripGIF drops comments and application extensions (XMP among them) except the looping one, and
// whatever follows the trailer.
func stripGIF(data []byte) ([]byte, error) {
	if len(data) < 13 || (string(data[:6]) != "GIF87a" && string(data[:6]) != "GIF89a") {
		return nil, errFormat
	}
	i := 13
	if data[10]&0x80 != 0 {
		i += 3 << (data[10]&7 + 1)
	}
	if i > len(data) {
		return nil, errFormat
	}
	out := bytes.NewBuffer(make([]byte, 0, len(data)))
	out.Write(data[:i])
	// subBlocks returns where the run of sub-blocks starting at j ends (after its terminator).
	subBlocks := func(j int) (int, error) {
		for j < len(data) {
			n := int(data[j])
			j += 1 + n
			if n == 0 {
				return j, nil
			}
		}
		return 0, errFormat
	}
	area := 0
	for i < len(data) {
		switch data[i] {
		case 0x3B: // trailer
			out.WriteByte(0x3B)
			return out.Bytes(), nil
		case 0x21: // extension
			if i+2 > len(data) {
				return nil, errFormat
			}
			end, err := subBlocks(i + 2)
			if err != nil {
				return nil, err
			}
			label := data[i+1]
			keep := label == 0xF9 || label == 0x01
			if label == 0xFF && i+14 <= len(data) && data[i+2] == 11 {
				id := string(data[i+3 : i+14])
				keep = id == "NETSCAPE2.0" || id == "ANIMEXTS1.0"
			}
			if keep {
				out.Write(data[i:end])
			}
			i = end
		case 0x2C: // image
			if i+10 > len(data) {
				return nil, errFormat
			}
			area += int(binary.LittleEndian.Uint16(data[i+5:])) * int(binary.LittleEndian.Uint16(data[i+7:]))
			if area > gifFrameArea {
				return nil, errFormat
			}
			j := i + 10
			if data[i+9]&0x80 != 0 {
				j += 3 << (data[i+9]&7 + 1)
			}
			end, err := subBlocks(j + 1) // after the LZW minimum code size
			if err != nil {
				return nil, err
			}
			out.Write(data[i:end])
			i = end
		default:
			return nil, errFormat
		}
	}
	return nil, errFormat
}

// stripWebP drops the EXIF and XMP chunks (and their flags in VP8X) and anything after the RIFF.
func stripWebP(data []byte) ([]byte, error) {
	if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return nil, errFormat
	}
	size := int(binary.LittleEndian.Uint32(data[4:]))
	if size < 4 || 8+size > len(data) {
		return nil, errFormat
	}
	data = data[:8+size]
	out := bytes.NewBuffer(make([]byte, 0, len(data)))
	out.Write(data[:12])
	for i := 12; i < len(data); {
		if i+8 > len(data) {
			return nil, errFormat
		}
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		end := i + 8 + n + n&1
		if n < 0 || end > len(data) || end < i {
			return nil, errFormat
		}
		switch string(data[i : i+4]) {
		case "EXIF", "XMP ":
		case "VP8X":
			chunk := bytes.Clone(data[i:end])
			if len(chunk) > 8 {
				chunk[8] &^= 0x08 | 0x04 // the EXIF and XMP flags
			}
			out.Write(chunk)
		default:
			out.Write(data[i:end])
		}
		i = end
	}
	b := out.Bytes()
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b, nil
}
