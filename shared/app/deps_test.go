package app_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestServicesOnly: the service floor depends on the domain only: no
// adapter (storage, secrets, queues, PSA clients), no AWS service, and
// nothing of the floors above it (transport, workers, composition root).
func TestServicesOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const shared = "github.com/psabridge/psabridge/shared/"
	forbidden := []string{"dynamo", "secrets", "sqsqueue", "httpapi", "billingsync", "ticketing", "compose", "devstack"}
	for _, dep := range strings.Fields(string(out)) {
		name, ours := strings.CutPrefix(dep, shared)
		switch {
		case strings.HasPrefix(dep, "github.com/aws/aws-sdk-go-v2/service/"),
			ours && strings.HasPrefix(name, "psa/"),
			ours && slices.Contains(forbidden, strings.SplitN(name, "/", 2)[0]):
			t.Errorf("shared/app depends on %s", dep)
		}
	}
}
