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

// optional reads a column that may be NULL: nil for NULL, else the value read.
func optional[T any](v any, read func(any) T) *T {
	if v == nil {
		return nil
	}
	x := read(v)
	return &x
}
