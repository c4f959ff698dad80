// Package iamcallstest records the AWS calls of the in-process end-to-end
// tests, per function, and keeps them in iamcalls.GoldenFileOf(package),
// which the infra tests check against each function's role like the Runtime
// API smoke test's record.
//
// An e2e package runs its tests under Main. Every SDK client of the test
// process records its calls (awsconfig's call log); a call counts for the
// function the harness attributed it to: the client's awsconfig.AsCaller
// (each function gets its own clients) or the context's iamcalls.WithCaller
// (one handler serving two functions' routes, iamcalls.HTTP). Calls of the
// test's own setup and checks name no function and are left out.
//
// After the tests, Main fails the package when a function made a call the
// golden file lacks (the infra tests have not checked it against the
// role), and, when the whole package ran, when the golden file lists a call
// no test made any more (its grant would look exercised). After a change
// that makes a function call AWS differently, rerun the package with
// -update-aws-calls, review the diff of the golden file, and run the infra
// tests (`cd infra && go test -run TestRoles ./...`):
//
//	go test -count=1 ./shared/billingsync -update-aws-calls
//
// A -run filter with -update-aws-calls only adds calls.
package iamcallstest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/iamcalls"
	"github.com/psabridge/psabridge/shared/localaws"
)

var update = flag.Bool("update-aws-calls", false, "rewrite this package's record of AWS calls per function (see shared/iamcalls/iamcallstest)")

// Main is the TestMain of an e2e package (source names its golden file):
//
//	func TestMain(m *testing.M) { iamcallstest.Main(m, "billingsync") }
//
// It starts the local stand-ins like localaws.Main.
func Main(m *testing.M, source string) {
	os.Exit(run(m, source))
}

func run(m *testing.M, source string) int {
	dir, err := os.MkdirTemp("", "psabridge-aws-calls-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	log := filepath.Join(dir, "calls.jsonl")
	if err := os.Setenv(awsconfig.CallLogEnv, log); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	code := localaws.Run(m)
	if code != 0 && *update {
		return code
	}
	if err := check(source, log, code == 0 && wholePackage()); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: AWS calls of the e2e tests: %v\n", err)
		return 1
	}
	return code
}

// wholePackage reports whether every test of the package ran (no -run or
// -skip filter), so a call missing from the run is a call no longer made.
func wholePackage() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return true
}

// check compares the recorded calls with the golden file of source, or
// rewrites it with -update-aws-calls.
func check(source, log string, whole bool) error {
	raw, err := awsconfig.ReadCallLog(log)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	got, err := Normalize(raw)
	if err != nil {
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	path := filepath.Join(root, iamcalls.GoldenFileOf(source))
	golden, err := iamcalls.Read(path)
	if err != nil && !(os.IsNotExist(err) && *update) {
		return fmt.Errorf("%v (create it with -update-aws-calls)", err)
	}
	if *update {
		if !whole {
			for fn, calls := range golden {
				for _, c := range calls {
					got.Add(fn, c)
				}
			}
		}
		b, err := got.Marshal()
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s: review the diff, then run the infra tests\n", iamcalls.GoldenFileOf(source))
		return nil
	}
	var problems []string
	for fn, calls := range got.Sorted() {
		for _, c := range calls {
			if !slices.Contains(golden[fn], c) {
				problems = append(problems, fmt.Sprintf("%s made %s, which %s lacks: its role has not been checked for it", fn, c, iamcalls.GoldenFileOf(source)))
			}
		}
	}
	if whole {
		for fn, calls := range golden {
			for _, c := range calls {
				if !slices.Contains(got[fn], c) {
					problems = append(problems, fmt.Sprintf("%s lists %s of %s, which no test made", iamcalls.GoldenFileOf(source), c, fn))
				}
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("\n  %s\nreview, then rerun the package with -update-aws-calls and run the infra tests", strings.Join(problems, "\n  "))
	}
	return nil
}

// Normalize returns the calls that name a function, per function, in the
// stack's terms (iamcalls): every table is the stack's table (tests make
// one each), a queue's role is a "sync" or "ticket(s)" part of its name
// (sqstest.MustQueueOf, devstack's queues), a secret's namespace the part
// before its tenant. A call of a function on anything else is an error.
func Normalize(raw []awsconfig.Call) (iamcalls.Record, error) {
	rec := iamcalls.Record{}
	var errs []string
	for _, c := range raw {
		if c.Caller == "" {
			continue
		}
		res, ok := resource(c)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s made %+v, which names no resource of the stack", c.Caller, c))
			continue
		}
		rec.Add(c.Caller, iamcalls.Call{Action: c.Action, Resource: res})
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return nil, fmt.Errorf("%s", strings.Join(slices.Compact(errs), "; "))
	}
	return rec, nil
}

func resource(c awsconfig.Call) (string, bool) {
	switch {
	case c.Table != "":
		if c.Index != "" {
			return iamcalls.Index(c.Index), true
		}
		return iamcalls.Table, true
	case c.Queue != "":
		name := strings.TrimSuffix(c.Queue[strings.LastIndex(c.Queue, "/")+1:], ".fifo")
		parts := strings.Split(name, "-")
		switch {
		case slices.Contains(parts, "dlq"):
			return "", false
		case slices.Contains(parts, "sync"):
			return iamcalls.Queue("sync"), true
		case slices.Contains(parts, "ticket"), slices.Contains(parts, "tickets"):
			return iamcalls.Queue("ticket"), true
		}
		return "", false
	case c.Secret != "":
		parts := strings.Split(c.Secret, "/")
		if n := len(parts); n >= 2 && (parts[n-2] == "psa" || parts[n-2] == "platform") {
			return iamcalls.Secret(parts[n-2]), true
		}
		return "", false
	case c.Function != "":
		name := c.Function[strings.LastIndex(c.Function, ":")+1:]
		return iamcalls.Function(name[strings.LastIndex(name, "-")+1:]), true
	}
	return "", false
}

// repoRoot walks up from the working directory (the package's) to the core
// module root.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			if strings.TrimSpace(first) == "module github.com/psabridge/psabridge" {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("core module root not found above %s", dir)
		}
		dir = parent
	}
}
