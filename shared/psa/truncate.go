package psa

import "unicode/utf8"

// Truncate cuts s to at most n runes for a field with a length limit (a
// ticket title, see Provider.TitleLimit) or a message. A longer s keeps its
// first n-1 runes followed by "…", so the result has exactly n runes;
// with n ≤ 1 there is no room for the mark and it is the first n runes
// ("" for n ≤ 0). A rune is never split.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return string([]rune(s)[:max(n, 0)])
	}
	return string([]rune(s)[:n-1]) + "…"
}
