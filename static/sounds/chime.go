//go:build ignore

// Writes static/sounds/notify.wav, the new-message sound: a short two-note chime as an 8 kHz, 8-bit
// mono WAV, made here rather than taken from anywhere. Run from the repository root:
// go run static/sounds/chime.go static/sounds/notify.wav
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

func main() {
	const rate = 8000
	var pcm []byte
	for _, note := range []struct{ freq, secs float64 }{{880, 0.09}, {1318.5, 0.16}} {
		n := int(note.secs * rate)
		for i := 0; i < n; i++ {
			t := float64(i) / rate
			env := math.Min(1, float64(i)/40) * math.Exp(-t*18)
			v := 0.5 * env * math.Sin(2*math.Pi*note.freq*t)
			pcm = append(pcm, byte(128+v*127))
		}
	}
	var out bytes.Buffer
	out.WriteString("RIFF")
	for _, v := range []any{uint32(36 + len(pcm)), []byte("WAVEfmt "), uint32(16), uint16(1), uint16(1), // PCM, mono
		uint32(rate), uint32(rate), uint16(1), uint16(8), []byte("data"), uint32(len(pcm)), pcm} {
		_ = binary.Write(&out, binary.LittleEndian, v) // a bytes.Buffer does not fail
	}
	if err := os.WriteFile(os.Args[1], out.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
