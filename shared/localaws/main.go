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
func Main(m *testing.M) {
	if os.Getenv(EnvDynamoDB) != "" && os.Getenv(EnvSQS) != "" && os.Getenv(EnvSecretsManager) != "" {
		os.Exit(m.Run())
	}
	stack, err := Start(context.Background(), Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\nThese tests need DynamoDB Local and moto: run them with `make test`.\n", err)
		os.Exit(2)
	}
	stack.Setenv()
	code := m.Run()
	stack.Stop()
	os.Exit(code)
}
