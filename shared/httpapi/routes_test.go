package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/psabridge/psabridge/shared/httpapi"
)

// TestWebhookOnly: the webhook Lambda's handler serves the webhook route and
// nothing of the admin API.
func TestWebhookOnly(t *testing.T) {
	h := httpapi.NewWebhook(httpapi.Config{})
	if got := h.Routes(); !slices.Equal(got, []string{"POST /v1/webhooks/alerts"}) {
		t.Fatalf("got routes %v, want the webhook's only", got)
	}
	for _, path := range []string{"/v1/orgs", "/v1/openapi.json", "/v1/integration"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: got %d, want 404", path, rec.Code)
		}
	}
	if n := len(httpapi.New(httpapi.Config{}).Routes()); n < 40 {
		t.Fatalf("the REST API has %d routes, want the whole table", n)
	}
}
