package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/localaws"
	"github.com/psabridge/psabridge/shared/psa"
)

// TestIntegrationMustBeThePSA: PUT /v1/integration stores a ConnectWise
// integration only when the answer really comes from ConnectWise. moto's
// SQS endpoint (issue 13: it was once "verified") and other foreign servers
// at custom endpoints are refused, nothing is stored, and their bodies never
// appear in the answer. Without custom endpoints, a site that is not a
// ConnectWise cloud host is 400 before any request.
func TestIntegrationMustBeThePSA(t *testing.T) {
	moto := os.Getenv(localaws.EnvSQS)
	if moto == "" {
		t.Fatalf("%s is not set: run the tests with `make test`", localaws.EnvSQS)
	}
	const marker = "internal-console-token-0451"
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/json/"):
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"ok","note":"` + marker + `"}`))
		case strings.HasPrefix(r.URL.Path, "/fail/"):
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte("<html>" + marker + "</html>"))
		default:
			_, _ = w.Write([]byte("<html>" + marker + "</html>"))
		}
	}))
	defer foreign.Close()
	e := newPSAEnv(t)
	cw := func(endpoints map[string]string) []byte {
		return mustJSON(t, map[string]any{"provider": "connectwise", "site": "na.myconnectwise.net", "companyId": cwCompany,
			"publicKey": cwPublic, "privateKey": cwPrivate, "clientId": cwClient, "endpoints": endpoints})
	}
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"ErrMotoSQSAsAPI", cw(map[string]string{"connectwiseLoginUrl": moto + "/", "connectwiseApiUrl": moto + "/"})},
		{"ErrMotoSQSAsLogin", cw(map[string]string{"connectwiseLoginUrl": moto + "/"})},
		// moto answers 200 with XML here (base + "system/info" lands in the query).
		{"ErrMotoSQS200XML", cw(map[string]string{"connectwiseLoginUrl": moto + "/", "connectwiseApiUrl": moto + "/?Action=ListQueues&x="})},
		{"ErrMotoDashboard200HTML", cw(map[string]string{"connectwiseLoginUrl": moto + "/", "connectwiseApiUrl": moto + "/moto-api/?x="})},
		{"ErrMotoLogin200XML", cw(map[string]string{"connectwiseLoginUrl": moto + "/?Action=ListQueues&x="})},
		{"ErrForeignJSON", cw(map[string]string{"connectwiseLoginUrl": foreign.URL + "/json/", "connectwiseApiUrl": foreign.URL + "/json/"})},
		{"ErrForeignHTML", cw(map[string]string{"connectwiseLoginUrl": foreign.URL + "/", "connectwiseApiUrl": foreign.URL + "/"})},
		{"ErrForeignHTMLError", cw(map[string]string{"connectwiseLoginUrl": foreign.URL + "/fail/", "connectwiseApiUrl": foreign.URL + "/fail/"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.admin(tenantB, "PUT", "/v1/integration", tc.body, nil)
			if rec.Code != http.StatusUnprocessableEntity && rec.Code != http.StatusUnauthorized {
				t.Fatalf("got %d %s, want 422 (not ConnectWise)", rec.Code, rec.Body)
			}
			if b := rec.Body.String(); strings.Contains(b, marker) || strings.Contains(b, "<") || strings.Contains(strings.ToLower(b), "queue") {
				t.Fatalf("the answer echoes the foreign body: %s", b)
			}
			if rec := e.admin(tenantB, "GET", "/v1/integration", nil, nil); rec.Code != http.StatusNotFound {
				t.Fatalf("GET /v1/integration: got %d %s, want 404 (nothing stored)", rec.Code, rec.Body)
			}
		})
	}
	t.Run("SandboxVerifies", func(t *testing.T) {
		if rec := e.admin(tenantB, "PUT", "/v1/integration", e.connectWiseBody(cwPrivate), nil); rec.Code != http.StatusOK {
			t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
		}
	})
	t.Run("ErrSiteNotCloudHost", func(t *testing.T) {
		a := newAPI(t, func(c *httpapi.Config) { c.Endpoints = psa.Endpoints{} })
		for _, site := range []string{"intranet.example.com", "169.254.169.254", "na.myconnectwise.net.evil.example", "cw.internal"} {
			body := mustJSON(t, map[string]any{"provider": "connectwise", "site": site, "companyId": cwCompany,
				"publicKey": cwPublic, "privateKey": cwPrivate, "clientId": cwClient})
			mustInvalid(t, a.do("PUT", "/v1/integration", a.token(tenantB, billingRole), body, nil), "cloud host")
		}
	})
}
