package devstack

import (
	"strings"
	"testing"
)

func TestFirstLine(t *testing.T) {
	for _, tc := range []struct{ name, s, want string }{
		{"Empty", "", ""},
		{"Trimmed", "  note  \n", "note"},
		{"FirstOfMany", "first\nsecond\nthird", "first"},
		{"Fits", strings.Repeat("x", 90), strings.Repeat("x", 90)},
		{"Cut", strings.Repeat("x", 91), strings.Repeat("x", 89) + "…"},
		{"RunesNotBytes", strings.Repeat("é", 90), strings.Repeat("é", 90)},
		{"CutRunes", strings.Repeat("é", 100) + "\nmore", strings.Repeat("é", 89) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := firstLine(tc.s); got != tc.want {
				t.Errorf("firstLine(%q) = %q, want %q", tc.s, got, tc.want)
			}
		})
	}
}
