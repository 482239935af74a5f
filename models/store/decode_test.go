package store

import (
	"testing"
	"time"
)

func TestDecoderReadsEveryTimeForm(t *testing.T) {
	want := time.Date(2026, 12, 3, 13, 4, 5, 678_000_000, time.UTC)
	for _, text := range []string{
		"2026-12-03 13:04:05.678+00:00", // what the store writes
		"2026-12-03T13:04:05.678Z",
		"2026-12-03 13:04:05.678",
		"2026-12-03 14:04:05.678+01:00",
		"2026-12-03 13:04:05.678 +0000 UTC m=+0.000000001", // time.Time.String
	} {
		var d decoder
		if got := d.time(text); !got.Equal(want) || d.err != nil {
			t.Errorf("%q: %v (err %v), want %v", text, got, d.err, want)
		}
	}
	var d decoder
	if got := d.time("2026-12-03 13:04:05"); !got.Equal(want.Truncate(time.Second)) { // SQLite's CURRENT_TIMESTAMP
		t.Errorf("CURRENT_TIMESTAMP's form: %v", got)
	}
	for _, bad := range []any{"yesterday", 3.5, []int{1}} {
		var d decoder
		d.time(bad)
		if d.err == nil {
			t.Errorf("%#v read as a time without an error", bad)
		}
	}
	d = decoder{}
	if n, b, s := d.int(int16(3)), d.bool(int64(1)), d.str([]byte("x")); n != 3 || !b || s != "x" || d.err != nil {
		t.Errorf("int16, int64 as bool, bytes as text: %d %v %q %v", n, b, s, d.err)
	}
	if d.int("3"); d.err == nil {
		t.Error("text read as an integer without an error")
	}
}

// utcText, the fast path, reads every text as the same instant as time.Parse does with the layouts,
// in UTC (time.Parse gives the Local zone or a fixed one for "+00:00"), or leaves it to them.
func TestUTCTextAgreesWithTimeParse(t *testing.T) {
	for _, text := range []string{
		"2026-12-03 13:04:05.678+00:00", "2026-12-03 13:04:05+00:00", "2026-12-03 13:04:05.123456789Z",
		"2026-12-03T13:04:05.1Z", "2026-12-03 13:04:05", "2026-12-03 13:04:05.000000001",
		"2024-02-29 23:59:59.999999999+00:00", "0001-01-01 00:00:00+00:00",
		// left to time.Parse, read or refused there:
		"2026-02-30 13:04:05+00:00", "2026-13-03 13:04:05", "2026-12-03 24:00:00", "2026-12-03 13:04:05.",
		"2026-12-03 13:04:05.1234567891Z", "2026-12-03 13:04:05+01:00", "2026-12-03 13:04:05.5 +0000 UTC",
		"2026-12-03 1a:04:05", "2026-12-03 13:04:05 ", "-026-12-03 13:04:05", "2026-12-03 13:04:05.Z",
	} {
		var layouts decoder
		var want time.Time
		for _, layout := range timeLayouts {
			if w, err := time.Parse(layout, text); err == nil {
				want = w
				break
			}
		}
		got, ok := utcText(text)
		if ok && (!got.Equal(want) || got.Location() != time.UTC) {
			t.Errorf("%q: fast path %v, time.Parse %v", text, got, want)
		}
		if d := layouts.time(text); !d.Equal(want) {
			t.Errorf("%q: decoder %v, time.Parse %v", text, d, want)
		}
	}
	for _, text := range []string{"2026-12-03 13:04:05.678+00:00", "2026-12-03T13:04:05.1Z", "2026-12-03 13:04:05"} {
		if _, ok := utcText(text); !ok {
			t.Errorf("%q: not read by the fast path", text)
		}
	}
	for _, text := range []string{"2026-02-30 13:04:05+00:00", "2026-12-03 13:04:05+01:00", "2026-12-03 13:04:05.", "2026-12-03 13:04:05.Z"} {
		if _, ok := utcText(text); ok {
			t.Errorf("%q: read by the fast path", text)
		}
	}
}
