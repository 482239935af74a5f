package views

import (
	"strings"
	"testing"
)

// A preview or a quote is cut by characters, never inside one, and says when it was cut.
func TestCutRunes(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"héllo", 4, "héll…"},
		{"日本語", 3, "日本語"},
		{"日本語です", 3, "日本語…"},
		{strings.Repeat("é", 80), 80, strings.Repeat("é", 80)},
		{strings.Repeat("é", 81), 80, strings.Repeat("é", 80) + "…"},
	} {
		if got := cutRunes(c.s, c.n); got != c.want {
			t.Errorf("cutRunes(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
