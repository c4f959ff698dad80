package lambdaruntime_test

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/iamcalls"
)

// updateCalls rewrites iamcalls.GoldenFile from the calls the functions
// made: run `go test ./shared/lambdaruntime -run TestFunctionsUnderRuntimeAPI
// -update-aws-calls` (with the local stand-ins) after a change that makes a
// function call AWS differently, review the diff, and let the infra tests
// check the roles against it.
var updateCalls = flag.Bool("update-aws-calls", false, "rewrite "+iamcalls.GoldenFile+" from the calls the functions make")

// resourceNames are one FunctionEnv's real names of the stack's resources.
type resourceNames struct {
	table        string
	queues       map[string]string // queue URL → role (sync, ticket)
	secretPrefix string
	functions    map[string]string // function name → stack function
}

// normalize returns a recorded call in the stack's terms (iamcalls), or
// false when it names a resource the environment did not create.
func (n resourceNames) normalize(c awsconfig.Call) (iamcalls.Call, bool) {
	out := iamcalls.Call{Action: c.Action}
	switch {
	case c.Table != "":
		if c.Table != n.table {
			return out, false
		}
		out.Resource = iamcalls.Table
		if c.Index != "" {
			out.Resource = iamcalls.Index(c.Index)
		}
	case c.Queue != "":
		role, ok := n.queues[c.Queue]
		if !ok {
			return out, false
		}
		out.Resource = iamcalls.Queue(role)
	case c.Secret != "":
		ns, _, ok := strings.Cut(strings.TrimPrefix(c.Secret, n.secretPrefix), "/")
		if !ok || !strings.HasPrefix(c.Secret, n.secretPrefix) {
			return out, false
		}
		out.Resource = iamcalls.Secret(ns)
	case c.Function != "":
		fn, ok := n.functions[c.Function]
		if !ok {
			return out, false
		}
		out.Resource = iamcalls.Function(fn)
	default:
		return out, false // an account-wide call (ListTables …): no function makes one
	}
	return out, true
}

func TestNormalize(t *testing.T) {
	n := resourceNames{table: "tbl", queues: map[string]string{"http://q/sync.fifo": "sync"}, secretPrefix: "p-1/", functions: map[string]string{"p-1-fanout": "fanout"}}
	for _, tc := range []struct {
		name string
		in   awsconfig.Call
		want string
		ok   bool
	}{
		{"Table", awsconfig.Call{Action: "dynamodb:GetItem", Table: "tbl"}, "dynamodb:GetItem on table", true},
		{"Index", awsconfig.Call{Action: "dynamodb:Query", Table: "tbl", Index: "GSI1"}, "dynamodb:Query on table/index/GSI1", true},
		{"Queue", awsconfig.Call{Action: "sqs:SendMessage", Queue: "http://q/sync.fifo"}, "sqs:SendMessage on queue/sync", true},
		{"Secret", awsconfig.Call{Action: "secretsmanager:GetSecretValue", Secret: "p-1/psa/demo"}, "secretsmanager:GetSecretValue on secret/psa/<tenant>", true},
		{"Function", awsconfig.Call{Action: "lambda:InvokeFunction", Function: "p-1-fanout"}, "lambda:InvokeFunction on function/fanout", true},
		{"ErrOtherTable", awsconfig.Call{Action: "dynamodb:GetItem", Table: "other"}, "", false},
		{"ErrOtherQueue", awsconfig.Call{Action: "sqs:SendMessage", Queue: "http://q/other.fifo"}, "", false},
		{"ErrSecretOutsidePrefix", awsconfig.Call{Action: "secretsmanager:GetSecretValue", Secret: "other/psa/demo"}, "", false},
		{"ErrAccountWide", awsconfig.Call{Action: "dynamodb:ListTables"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := n.normalize(tc.in)
			if ok != tc.ok || (ok && got.String() != tc.want) {
				t.Errorf("got %s, %v; want %s, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// MustRecordedCalls reads a function's call log and returns its distinct
// calls in the stack's terms, failing on a call to anything else.
func MustRecordedCalls(tb testing.TB, path string, names resourceNames) []iamcalls.Call {
	tb.Helper()
	raw, err := awsconfig.ReadCallLog(path)
	if err != nil {
		tb.Fatalf("call log: %v", err)
	}
	rec := iamcalls.Record{}
	for _, c := range raw {
		n, ok := names.normalize(c)
		if !ok {
			tb.Errorf("call %+v names no resource of the stack", c)
			continue
		}
		rec.Add("f", n)
	}
	return rec.Sorted()["f"]
}

// MustMatchGolden fails unless a function's calls are exactly those of the
// golden file: a new call must be recorded there (and so be checked against
// the function's role by the infra tests), and a call no longer made must
// leave it (so its grant shows as unused).
func MustMatchGolden(tb testing.TB, root, function string, got []iamcalls.Call) {
	tb.Helper()
	golden, err := iamcalls.Read(filepath.Join(root, iamcalls.GoldenFile))
	if err != nil {
		tb.Fatalf("%v (regenerate with -update-aws-calls)", err)
	}
	if want := golden[function]; !reflect.DeepEqual(got, want) {
		tb.Errorf("%s's AWS calls differ from %s (review, then rerun with -update-aws-calls):\n got %v\nwant %v", function, iamcalls.GoldenFile, got, want)
	}
}

// MustWriteGolden writes the calls of the functions that ran to the golden
// file, keeping the others' (a -run filter may have left them out).
func MustWriteGolden(tb testing.TB, root string, rec iamcalls.Record) {
	tb.Helper()
	all, err := iamcalls.Read(filepath.Join(root, iamcalls.GoldenFile))
	if err != nil {
		all = iamcalls.Record{}
	}
	for fn, calls := range rec {
		all[fn] = calls
	}
	b, err := all.Marshal()
	if err == nil {
		err = os.WriteFile(filepath.Join(root, iamcalls.GoldenFile), b, 0o644)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("wrote %s", iamcalls.GoldenFile)
}
