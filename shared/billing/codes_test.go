package billing

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCodesDocumented keeps the README's code table complete.
func TestCodesDocumented(t *testing.T) {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("go.mod not found")
		}
		dir = filepath.Dir(dir)
	}
	doc, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Code]bool{}
	for _, c := range Codes {
		if seen[c.Code] {
			t.Errorf("code %s listed twice", c.Code)
		}
		seen[c.Code] = true
		if !strings.Contains(string(doc), "| `"+string(c.Code)+"` | "+string(c.Level)+" |") {
			t.Errorf("README.md has no table row for %s (level %s)", c.Code, c.Level)
		}
		if c.When == "" || c.Action == "" || c.Outcome == "" {
			t.Errorf("code %s is not fully documented", c.Code)
		}
	}
}
