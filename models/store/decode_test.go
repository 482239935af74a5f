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
