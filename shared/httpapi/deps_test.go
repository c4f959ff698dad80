package httpapi_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTransportOnly: the REST API is transport and calls what it is given;
// it never reaches an adapter, directly or through another package
// (docs/ARCHITECTURE.md).
func TestTransportOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasSuffix(dep, "/shared/dynamo"), strings.HasSuffix(dep, "/shared/secrets"),
			strings.HasSuffix(dep, "/shared/sqsqueue"), strings.HasPrefix(dep, "github.com/aws/aws-sdk-go-v2/service/"):
			t.Errorf("shared/httpapi depends on %s", dep)
		}
	}
}
