package httpapi_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTransportOnly: the REST API is transport and calls what it is given;
// it never reaches an adapter, directly or through another package
// (docs/ARCHITECTURE.md): no storage, secret store or queue, no AWS
// service, and no PSA client, budget or vendor (the composition root dials them).
func TestTransportOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasSuffix(dep, "/shared/dynamo"), strings.HasSuffix(dep, "/shared/secrets"),
			strings.HasSuffix(dep, "/shared/sqsqueue"), strings.HasPrefix(dep, "github.com/aws/aws-sdk-go-v2/service/"),
			strings.Contains(dep, "/shared/psa/"):
			t.Errorf("shared/httpapi depends on %s", dep)
		}
	}
}
