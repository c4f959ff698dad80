package psa_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/psabridge/psabridge/shared/psa"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name, s string
		n       int
		want    string
	}{
		{"Empty", "", 5, ""},
		{"Shorter", "abc", 5, "abc"},
		{"Exact", "abcde", 5, "abcde"},
		{"Longer", "abcdef", 5, "abcd…"},
		{"RunesNotBytes", "ééééé", 5, "ééééé"},
		{"CutRunes", "éééééé", 5, "éééé…"},
		{"Emoji", "a😀😀😀", 3, "a😀…"},
		{"Two", "abc", 2, "a…"},
		{"OneNoMark", "abc", 1, "a"},
		{"OneFits", "é", 1, "é"},
		{"Zero", "abc", 0, ""},
		{"Negative", "abc", -1, ""},
		{"TitleLimit", strings.Repeat("x", 300), psa.ConnectWise.TitleLimit(), strings.Repeat("x", 99) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := psa.Truncate(tc.s, tc.n)
			if got != tc.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Truncate(%q, %d) = %q is not valid UTF-8", tc.s, tc.n, got)
			}
		})
	}
}
