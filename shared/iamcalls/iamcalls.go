// Package iamcalls is the record of the AWS calls each psabridge function's
// handler makes, in the stack's terms rather than one test run's names: the
// Runtime API smoke test (shared/lambdaruntime) records the calls of the
// real bootstraps and keeps them in GoldenFile, and the infra tests check
// every recorded call against the function's role in the synthesized
// template, and every grant of the role against the record (least
// privilege both ways). Pure: no AWS SDK, so the infra module can read it.
package iamcalls

import (
	"bytes"
	"encoding/json"
	"fmt"
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
