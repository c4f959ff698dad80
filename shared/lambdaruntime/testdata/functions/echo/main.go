// Command echo is the fixture function of the lambdaruntime tests: it
// returns its event, fails an invocation whose event is {"fail":"<msg>"},
// and exits before polling when ECHO_EXIT_AT_INIT is set.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	if os.Getenv("ECHO_EXIT_AT_INIT") != "" {
		os.Stderr.WriteString("echo: exiting at init as asked\n")
		os.Exit(3)
	}
	lambda.Start(func(ctx context.Context, ev json.RawMessage) (json.RawMessage, error) {
		var f struct{ Fail string }
		if json.Unmarshal(ev, &f) == nil && f.Fail != "" {
			return nil, errors.New(f.Fail)
		}
		return ev, nil
	})
}
