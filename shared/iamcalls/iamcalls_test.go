package iamcalls_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/iamcalls"
)

func TestRecordRoundTrip(t *testing.T) {
	r := iamcalls.Record{}
	r.Add("fanout", iamcalls.Call{Action: "sqs:SendMessage", Resource: iamcalls.Queue("sync")})
	r.Add("fanout", iamcalls.Call{Action: "dynamodb:Query", Resource: iamcalls.Index("GSI1")})
	r.Add("fanout", iamcalls.Call{Action: "sqs:SendMessage", Resource: iamcalls.Queue("sync")})
	r.Add("api", iamcalls.Call{Action: "secretsmanager:CreateSecret", Resource: iamcalls.Secret("psa")})
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"secret/psa/<tenant>"`) {
		t.Errorf("got %s, want the tenant placeholder unescaped", b)
	}
	path := filepath.Join(t.TempDir(), "calls.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := iamcalls.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := r.Sorted(); !reflect.DeepEqual(got, want) || len(got["fanout"]) != 2 {
		t.Errorf("got %v, want %v (each call once, sorted)", got, want)
	}
}

func TestReadStrict(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"ErrUnknownField", `{"api":[{"action":"dynamodb:GetItem","resource":"table","why":"x"}]}`},
		{"ErrNoService", `{"api":[{"action":"GetItem","resource":"table"}]}`},
		{"ErrNoResource", `{"api":[{"action":"dynamodb:GetItem"}]}`},
		{"ErrTrailing", `{"api":[]} {}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "calls.json")
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := iamcalls.Read(path); err == nil {
				t.Error("got nil error, want the record refused")
			}
		})
	}
}
