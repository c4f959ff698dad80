package main

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/iamcalls"
)

// statement is one Allow statement of a role's policy, as render prints it.
type statement struct{ actions, resources []string }

// pair is one granted action on one resource.
type pair struct{ action, resource string }

func (p pair) String() string { return p.action + " on " + p.resource }

const secretsArn = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"

// platformGrants are the grants AWS services use on a role's behalf, not
// the handler: no SDK call of the function records them, so they are listed
// here, each with the service that needs it.
var platformGrants = map[string][]pair{
	// Lambda writes each function's logs to its own log group.
	"ApiRole":          logGrants("ApiLogs"),
	"WebhookRole":      logGrants("WebhookLogs"),
	"FanoutRole":       append(logGrants("FanoutLogs"), fanoutDestination...),
	"SyncWorkerRole":   append(logGrants("SyncWorkerLogs"), esmGrants("SyncQueue")...),
	"TicketWorkerRole": append(logGrants("TicketWorkerLogs"), esmGrants("TicketQueue")...),
	// EventBridge Scheduler invokes the fan-out and dead-letters failures.
	"ScheduleRole": {{"lambda:InvokeFunction", "Fanout.Arn"}, {"sqs:SendMessage", "ScheduleDLQ.Arn"}},
}

func logGrants(group string) []pair {
	return []pair{{"logs:CreateLogStream", group + ".Arn"}, {"logs:PutLogEvents", group + ".Arn"}}
}

// esmGrants are what the SQS event source mapping polls a queue with.
func esmGrants(queue string) []pair {
	var out []pair
	for _, a := range []string{"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} {
		out = append(out, pair{a, queue + ".Arn"})
	}
	return out
}

// fanoutDestination is what Lambda's on-failure destination of the
// fan-out's asynchronous invocations uses.
var fanoutDestination = []pair{{"sqs:SendMessage", "FanoutFailures.Arn"}, {"sqs:GetQueueAttributes", "FanoutFailures.Arn"}, {"sqs:GetQueueUrl", "FanoutFailures.Arn"}}

// stackResource is the ARN, as render prints it, of a resource a record
// names; a secret gets a tenant and the random suffix Secrets Manager adds.
func stackResource(res string) (string, bool) {
	kind, rest, _ := strings.Cut(res, "/")
	switch kind {
	case iamcalls.Table:
		if rest == "" {
			return "Table.Arn", true
		}
		return "Table.Arn/" + rest, strings.HasPrefix(rest, "index/")
	case "queue":
		q := map[string]string{"sync": "SyncQueue.Arn", "ticket": "TicketQueue.Arn"}[rest]
		return q, q != ""
	case "secret":
		ns, tenant, ok := strings.Cut(rest, "/")
		return secretsArn + SecretPrefix + ns + "/" + strings.ReplaceAll(tenant, iamcalls.AnyTenant, "tenant-1") + "-AbCdEf", ok && ns != ""
	case "function":
		id := functionID(rest)
		return id + ".Arn", id != ""
	}
	return "", false
}

// iamMatch reports whether an IAM pattern (* and ? wildcards; actions
// case-insensitively) matches value.
func iamMatch(pattern, value string, foldCase bool) bool {
	re := regexp.QuoteMeta(pattern)
	re = strings.NewReplacer(`\*`, `.*`, `\?`, `.`).Replace(re)
	if foldCase {
		re = "(?i)" + re
	}
	return regexp.MustCompile("^" + re + "$").MatchString(value)
}

func (s statement) allows(action, resource string) bool {
	return slices.ContainsFunc(s.actions, func(a string) bool { return iamMatch(a, action, true) }) &&
		slices.ContainsFunc(s.resources, func(r string) bool { return iamMatch(r, resource, false) })
}

// MustRoleStatements returns every role's Allow statements, failing on any
// other shape (Deny, conditions, NotAction) and on wildcard resources other
// than the secret namespaces.
func MustRoleStatements(t *testing.T) map[string][]statement {
	t.Helper()
	roleIDs, roles := ofType("AWS::IAM::Role")
	got := map[string][]statement{}
	for i, id := range roleIDs {
		r := roles[i].Properties
		if r["ManagedPolicyArns"] != nil || r["Policies"] != nil {
			t.Errorf("%s: managed or inline policies %v %v; grant through the role's DefaultPolicy only", id, r["ManagedPolicyArns"], r["Policies"])
		}
		got[name(id)] = nil
	}
	wildcards := []string{secretsArn + SecretPrefix + "platform/*", secretsArn + SecretPrefix + "psa/*"}
	_, policies := ofType("AWS::IAM::Policy")
	for _, p := range policies {
		rs := list(p.Properties["Roles"])
		if len(rs) != 1 {
			t.Fatalf("policy attached to %d roles, want 1: %v", len(rs), rs)
		}
		role := render(rs[0])
		for _, s := range list(p.Properties["PolicyDocument"].(map[string]any)["Statement"]) {
			st := s.(map[string]any)
			if st["Effect"] != "Allow" || st["Condition"] != nil || st["NotAction"] != nil || st["NotResource"] != nil {
				t.Errorf("%s: unexpected statement shape %v", role, st)
			}
			var stmt statement
			for _, a := range list(st["Action"]) {
				stmt.actions = append(stmt.actions, a.(string))
			}
			for _, r := range list(st["Resource"]) {
				res := render(r)
				if strings.Contains(res, "*") && !slices.Contains(wildcards, res) {
					t.Errorf("%s: wildcard resource %q where a specific ARN is possible", role, res)
				}
				stmt.resources = append(stmt.resources, res)
			}
			got[role] = append(got[role], stmt)
		}
	}
	return got
}

// MustRecord reads the calls the functions made in the tests, the union of
// every record (iamcalls.GoldenGlob): under the Runtime API smoke test
// (shared/lambdaruntime keeps iamcalls.GoldenFile equal to them; every
// function must be there) and in the in-process e2e tests (billingsync,
// ticketing, httpapi, devstack: iamcallstest keeps iamcalls.GoldenFileOf
// each package). Regenerate a record with `go test <package>
// -update-aws-calls` (see those packages).
func MustRecord(t *testing.T) iamcalls.Record {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", iamcalls.GoldenGlob))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, filepath.Join("..", iamcalls.GoldenFile)) {
		t.Fatalf("%s is missing", iamcalls.GoldenFile)
	}
	all := iamcalls.Record{}
	for _, file := range files {
		rec, err := iamcalls.Read(file)
		if err != nil {
			t.Fatal(err)
		}
		for fn, calls := range rec {
			if !slices.Contains(Functions, fn) {
				t.Errorf("%s records calls of %q, not a function of the stack", file, fn)
			}
			if file == filepath.Join("..", iamcalls.GoldenFile) && len(calls) == 0 {
				t.Errorf("%s records no calls of %s", file, fn)
			}
			for _, c := range calls {
				all.Add(fn, c)
			}
		}
	}
	smoke, _ := iamcalls.Read(filepath.Join("..", iamcalls.GoldenFile))
	for _, fn := range Functions {
		if len(smoke[fn]) == 0 {
			t.Errorf("%s records no calls of %s: the Runtime API smoke test runs every function", iamcalls.GoldenFile, fn)
		}
	}
	return all
}

// TestRolesAllowRecordedCalls checks each function's role against the AWS
// calls its handler was seen making: every call is allowed (action and
// resource, index ARNs and secret prefixes included), and every grant is
// used by a recorded call or by an AWS service for the function
// (platformGrants). Least privilege both ways.
func TestRolesAllowRecordedCalls(t *testing.T) {
	rec := MustRecord(t)
	roles := MustRoleStatements(t)
	for role := range roles {
		if _, ok := platformGrants[role]; !ok {
			t.Errorf("role %s is neither a function's role nor in platformGrants", role)
		}
	}
	checkRole(t, "ScheduleRole", roles["ScheduleRole"], nil)
	for _, fn := range Functions {
		role := functionID(fn) + "Role"
		t.Run(role, func(t *testing.T) {
			var calls []pair
			for _, c := range rec[fn] {
				arn, ok := stackResource(c.Resource)
				if !ok {
					t.Errorf("%s: recorded resource %q is not one of the stack's", fn, c.Resource)
					continue
				}
				calls = append(calls, pair{c.Action, arn})
			}
			checkRole(t, role, roles[role], calls)
		})
	}
}

// checkRole fails for every call the statements deny, every granted pair no
// call and no platform service uses, and every platform grant missing.
func checkRole(t *testing.T, role string, stmts []statement, calls []pair) {
	t.Helper()
	for _, c := range calls {
		if !slices.ContainsFunc(stmts, func(s statement) bool { return s.allows(c.action, c.resource) }) {
			t.Errorf("%s denies %s, a call the function makes: AWS would refuse it", role, c)
		}
	}
	platform := platformGrants[role]
	for _, p := range platform {
		if !slices.ContainsFunc(stmts, func(s statement) bool { return s.allows(p.action, p.resource) }) {
			t.Errorf("%s lacks %s, which AWS needs for the function", role, p)
		}
	}
	for _, s := range stmts {
		for _, a := range s.actions {
			for _, r := range s.resources {
				g := pair{a, r}
				called := slices.ContainsFunc(calls, func(c pair) bool { return statement{[]string{a}, []string{r}}.allows(c.action, c.resource) })
				if !called && !slices.Contains(platform, g) {
					t.Errorf("%s grants %s, which no recorded call uses: remove it, or exercise the call in a recording test (the Runtime API smoke test or an e2e package)", role, g)
				}
			}
		}
	}
}

func TestIAMMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, value string
		fold, want     bool
	}{
		{"dynamodb:Query", "dynamodb:query", true, true},
		{"dynamodb:Query", "dynamodb:QueryX", true, false},
		{secretsArn + "psabridge/psa/*", secretsArn + "psabridge/psa/t-AbCdEf", false, true},
		{secretsArn + "psabridge/psa/*", secretsArn + "psabridge/platform/t-AbCdEf", false, false},
		{"Table.Arn", "Table.Arn/index/GSI1", false, false},
		{"Table.Arn/index/GSI1", "Table.Arn/index/GSI1", false, true},
	} {
		if got := iamMatch(tc.pattern, tc.value, tc.fold); got != tc.want {
			t.Errorf("iamMatch(%q, %q): got %v, want %v", tc.pattern, tc.value, got, tc.want)
		}
	}
}

// TestRoleTrust: Lambda roles for Lambda, the schedule role for this
// account's Scheduler only.
func TestRoleTrust(t *testing.T) {
	roleIDs, roles := ofType("AWS::IAM::Role")
	for i, id := range roleIDs {
		trust := render(roles[i].Properties["AssumeRolePolicyDocument"])
		want := `"Service":"lambda.amazonaws.com"`
		if name(id) == "ScheduleRole" {
			want = `{"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"}}},"Effect":"Allow","Principal":{"Service":"scheduler.amazonaws.com"}}`
		}
		if !strings.Contains(trust, want) || strings.Count(trust, `"Principal"`) != 1 {
			t.Errorf("%s trust policy: got %s, want %s", id, trust, want)
		}
	}
}
