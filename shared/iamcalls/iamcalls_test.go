package iamcalls_test

import (
	"context"
	"net/http"
	"net/http/httptest"
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

// TestCallers: HTTP attributes the webhook route to the webhook and every
// other route to the api; As tags a handler's context; CallerOf of an
// untagged context is "".
func TestCallers(t *testing.T) {
	if got := iamcalls.CallerOf(context.Background()); got != "" {
		t.Errorf("untagged: got %q, want none", got)
	}
	var seen string
	h := iamcalls.HTTP(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = iamcalls.CallerOf(r.Context()) }))
	for path, want := range map[string]string{iamcalls.WebhookPath: "webhook", "/v1/catalog": "api", "/v1/webhooks/alerts/x": "api"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, path, nil))
		if seen != want {
			t.Errorf("%s: got %q, want %q", path, seen, want)
		}
	}
	got, _ := iamcalls.As("syncworker", func(ctx context.Context, _ int) (string, error) { return iamcalls.CallerOf(ctx), nil })(context.Background(), 0)
	if got != "syncworker" {
		t.Errorf("As: got %q, want syncworker", got)
	}
}
