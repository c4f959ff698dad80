package billingsync_test

import (
	"encoding/json"
	"testing"
)

func mustJSON(tb testing.TB, s string, v any) {
	tb.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		tb.Fatalf("decode %q: %v", s, err)
	}
}
