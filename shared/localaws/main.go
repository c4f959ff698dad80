package localaws

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// Main is a TestMain for packages whose tests need DynamoDB Local or moto.
// Under `make test` the endpoints are already in the environment and Main
// just runs the tests; a plain `go test` starts the servers itself (and
// fails, never skips, with the reason when it cannot).
//
//	func TestMain(m *testing.M) { localaws.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit: it returns the tests' exit code (2 when
// the servers cannot start), for a TestMain that checks more after the
// tests (iamcallstest.Main).
func Run(m *testing.M) int {
	if os.Getenv(EnvDynamoDB) != "" && os.Getenv(EnvSQS) != "" && os.Getenv(EnvSecretsManager) != "" {
		return m.Run()
	}
	stack, err := Start(context.Background(), Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\nThese tests need DynamoDB Local and moto: run them with `make test`.\n", err)
		return 2
	}
	stack.Setenv()
	defer stack.Stop()
	return m.Run()
}
