package store

import (
	"fmt"
	"strings"
	"time"
)

// decoder turns the values a driver gives for columns (scanned into any, so database/sql converts
// nothing through reflection) into Go values. SQLite gives int64, string (times too, when read as
// text) and time.Time (columns declared DATETIME); PostgreSQL also int32, int16 and bool. A value of
// another type sets err, kept from the first one.
type decoder struct{ err error }

func (d *decoder) fail(want string, v any) {
	if d.err == nil {
		d.err = fmt.Errorf("column value %T where %s was expected", v, want)
	}
}

func (d *decoder) int(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case nil:
		return 0
	}
	d.fail("an integer", v)
	return 0
}

func (d *decoder) str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	d.fail("text", v)
	return ""
}

func (d *decoder) bool(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case nil:
		return false
	}
	d.fail("a boolean", v)
	return false
}

// timeLayouts are the forms a time may have in SQLite's text: the one the store writes first, then
// those the driver reads (SQLite's own CURRENT_TIMESTAMP among them) and time.Time.String's.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00", // Z07:00 reads an offset and Z alike
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006-01-02 15:04:05.999999999 -0700 MST",
}

func (d *decoder) time(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case string:
		if t, ok := utcText(x); ok {
			return t
		}
		if i := strings.Index(x, " m="); i > 0 { // time.Time.String's monotonic clock reading
			x = x[:i]
		}
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, x); err == nil {
				return t
			}
		}
	case nil:
		return time.Time{}
	}
	d.fail("a time", v)
	return time.Time{}
}

// utcText reads the form the store writes and SQLite's own, a UTC time as "2006-01-02 15:04:05",
// then optionally a fraction of up to nine digits, then "+00:00", "Z" or nothing, without walking a
// layout: a history page has 50 of them, and time.Parse was 5% of its CPU. ok is false for any other
// text (another offset, a date out of range), which time.Parse then reads or refuses.
func utcText(s string) (t time.Time, ok bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	digits := func(from, n int) int {
		v := 0
		for _, c := range []byte(s[from : from+n]) {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := digits(0, 4), digits(5, 2), digits(8, 2)
	hour, minute, sec := digits(11, 2), digits(14, 2), digits(17, 2)
	rest, nsec := s[19:], 0
	if len(rest) > 1 && rest[0] == '.' && rest[1] >= '0' && rest[1] <= '9' {
		n := 1
		for n < len(rest) && n <= 9 && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		frac := digits(20, n-1)
		for range 10 - n {
			frac *= 10
		}
		nsec, rest = frac, rest[n:]
	}
	if rest != "" && rest != "Z" && rest != "+00:00" ||
		year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t, t.Day() == day // February 30th is not a date
}

// optional reads a column that may be NULL: nil for NULL, else the value read.
func optional[T any](v any, read func(any) T) *T {
	if v == nil {
		return nil
	}
	x := read(v)
	return &x
}
