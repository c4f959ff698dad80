// Package iamcalls is the record of the AWS calls each psabridge function's
// handler makes, in the stack's terms rather than one test run's names: the
// Runtime API smoke test (shared/lambdaruntime) records the calls of the
// real bootstraps and keeps them in GoldenFile, the in-process end-to-end
// tests (billingsync, ticketing, httpapi, devstack: iamcallstest.Main) keep
// theirs in GoldenFileOf(package), and the infra tests check every recorded
// call against the function's role in the synthesized template, and every
// grant of the role against the record (least privilege both ways). Pure:
// no AWS SDK, so the infra module and the transport-only API can use it.
package iamcalls

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
)

// GoldenFile is the record's path relative to the core module root.
const GoldenFile = "infra/testdata/aws-calls.json"

// Call is one IAM-authorized call: the IAM action ("dynamodb:Query") and
// the resource in the stack's vocabulary (Table, Index, Queue, Secret,
// Function).
type Call struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
}

func (c Call) String() string { return c.Action + " on " + c.Resource }

// Resources, as a record names them.
const (
	// Table is the stack's one DynamoDB table.
	Table = "table"
	// AnyTenant stands for the tenant part of a secret name.
	AnyTenant = "<tenant>"
)

// Index is a global secondary index of the table: "table/index/<name>".
func Index(name string) string { return Table + "/index/" + name }

// Queue is a work queue by its role: "queue/sync", "queue/ticket",
// "queue/sync-dlq".
func Queue(role string) string { return "queue/" + role }

// Secret is a secret of a namespace ("platform", "psa") of any tenant:
// "secret/platform/<tenant>".
func Secret(namespace string) string { return "secret/" + namespace + "/" + AnyTenant }

// Function is a Lambda function of the stack by its name (infra.Functions).
func Function(name string) string { return "function/" + name }

// Record is the distinct calls of each function, by function name.
type Record map[string][]Call

// Add records a call of a function once.
func (r Record) Add(function string, c Call) {
	if !slices.Contains(r[function], c) {
		r[function] = append(r[function], c)
	}
}

// Sorted returns the record with each function's calls in a stable order.
func (r Record) Sorted() Record {
	out := Record{}
	for fn, calls := range r {
		cs := slices.Clone(calls)
		slices.SortFunc(cs, func(a, b Call) int { return strings.Compare(a.String(), b.String()) })
		out[fn] = cs
	}
	return out
}

// Marshal returns the record as the golden file holds it: indented JSON,
// functions and calls in a stable order, so a regenerated file diffs cleanly.
func (r Record) Marshal() ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false) // "<tenant>", not "\u003ctenant\u003e"
	e.SetIndent("", "  ")
	if err := e.Encode(r.Sorted()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Read reads a golden file strictly: unknown fields and trailing data are
// errors, and every call must name an action and a resource.
func Read(path string) (Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var r Record
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%s: trailing data after the record", path)
	}
	for fn, calls := range r {
		for _, c := range calls {
			if !strings.Contains(c.Action, ":") || c.Resource == "" {
				return nil, fmt.Errorf("%s: %s: call %+v lacks a service:Action or a resource", path, fn, c)
			}
		}
	}
	return r, nil
}

// GoldenFileOf is the record of the in-process end-to-end tests of one
// package (source: "billingsync", "ticketing", "httpapi", "devstack"),
// relative to the core module root. The infra tests check the union of
// GoldenFile and every GoldenFileOf (GoldenGlob) against the roles.
func GoldenFileOf(source string) string { return "infra/testdata/aws-calls-" + source + ".json" }

// GoldenGlob matches GoldenFile and every GoldenFileOf, relative to the
// core module root.
const GoldenGlob = "infra/testdata/aws-calls*.json"

// callerKey is the context key of the function on whose behalf a call is
// made.
type callerKey struct{}

// WithCaller returns ctx whose AWS calls are function's (a name of
// infra.Functions): a recording client (awsconfig's call log) attributes
// them to it, ahead of the client's own default (awsconfig.AsCaller). The
// end-to-end harnesses run every function in one process over shared
// clients, and tag each function's entry points with it; outside a
// recording test it has no effect.
func WithCaller(ctx context.Context, function string) context.Context {
	return context.WithValue(ctx, callerKey{}, function)
}

// CallerOf returns the function WithCaller put in ctx, or "".
func CallerOf(ctx context.Context) string {
	s, _ := ctx.Value(callerKey{}).(string)
	return s
}

// HTTPCaller is the function of the stack that serves an HTTP path: the
// webhook function serves the alerts webhook alone, the api every other
// route (locally one handler serves both).
func HTTPCaller(path string) string {
	if path == WebhookPath {
		return "webhook"
	}
	return "api"
}

// WebhookPath is the route of the webhook function.
const WebhookPath = "/v1/webhooks/alerts"

// As is handler h whose AWS calls are function's (WithCaller), as if it ran
// in that function's Lambda: for a harness that runs the function's handler
// in process over shared clients.
func As[E, R any](function string, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, ev E) (R, error) { return h(WithCaller(ctx, function), ev) }
}

// HTTP returns h with each request's AWS calls attributed to the function
// that serves its path in the stack (HTTPCaller).
func HTTP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), HTTPCaller(r.URL.Path))))
	})
}
