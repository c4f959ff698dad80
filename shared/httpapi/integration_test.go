package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/httpapi"
)

func TestPutIntegration(t *testing.T) {
	e := newPSAEnv(t)
	for _, tc := range []struct {
		name   string
		tenant string
		body   []byte
	}{
		{"Autotask", tenantA, e.autotaskBody(atSecret)},
		{"ConnectWise", tenantB, e.connectWiseBody(cwPrivate)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.admin(tc.tenant, "PUT", "/v1/integration", tc.body, nil)
			if rec.Code != http.StatusOK || rec.Header().Get("ETag") != `"1"` {
				t.Fatalf("got %d %s etag %q, want 200 etag \"1\"", rec.Code, rec.Body, rec.Header().Get("ETag"))
			}
			got := e.admin(tc.tenant, "GET", "/v1/integration", nil, nil)
			if got.Code != http.StatusOK || !strings.Contains(got.Body.String(), `"********"`) {
				t.Fatalf("GET: got %d %s, want 200 with masked secrets", got.Code, got.Body)
			}
			if _, err := e.Secrets.FreshPSACredentials(ctx(), tc.tenant); err != nil {
				t.Fatalf("credentials not stored: %v", err)
			}
		})
	}
	t.Run("RotationKeepsChoices", func(t *testing.T) {
		if rec := e.admin(tenantA, "PUT", "/v1/ticketing", []byte(`{"enabled":true}`), nil); rec.Code != http.StatusOK {
			t.Fatalf("ticketing: got %d %s", rec.Code, rec.Body)
		}
		rec := e.admin(tenantA, "PUT", "/v1/integration", e.autotaskBody(atSecret), ifMatch(`"2"`))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"ticketingEnabled":true`) {
			t.Fatalf("got %d %s, want 200 with ticketing still on", rec.Code, rec.Body)
		}
	})
	t.Run("ErrStaleIfMatch", func(t *testing.T) {
		rec := e.admin(tenantA, "PUT", "/v1/integration", e.autotaskBody(atSecret), ifMatch(`"1"`))
		if rec.Code != http.StatusPreconditionFailed {
			t.Fatalf("got %d %s, want 412", rec.Code, rec.Body)
		}
	})
}

func TestPutIntegrationInvalid(t *testing.T) {
	e := newPSAEnv(t)
	ep := `"endpoints":{"autotaskZoneUrl":"` + e.URL + `/autotask/atservicesrest/"}`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"ErrUnknownProvider", `{"provider":"halo"}`, "provider"},
		{"ErrMissingSecret", `{"provider":"autotask","username":"u@x.example","integrationCode":"c"}`, "secret is required"},
		{"ErrOtherProvidersField", `{"provider":"autotask","username":"u","secret":"s","integrationCode":"c","site":"x.example"}`, "site is not used"},
		{"ErrSiteWithScheme", `{"provider":"connectwise","site":"https://na.myconnectwise.net","companyId":"c","publicKey":"p","privateKey":"k","clientId":"i"}`, "without https://"},
		{"ErrSiteNotAHost", `{"provider":"connectwise","site":"na myconnectwise","companyId":"c","publicKey":"p","privateKey":"k","clientId":"i"}`, "host name"},
		{"ErrSiteWithPort", `{"provider":"connectwise","site":"127.0.0.1:8443","companyId":"c","publicKey":"p","privateKey":"k","clientId":"i"}`, "endpoints.connectwiseLoginUrl"},
		{"ErrUnknownField", `{"provider":"autotask","password":"x"}`, "unknown field"},
		{"ErrBadEndpoint", `{"provider":"autotask","username":"u","secret":"s","integrationCode":"c","endpoints":{"autotaskZoneUrl":"ftp://x"}}`, "endpoints.autotaskZoneUrl"},
		{"ErrMalformed", `{"provider":`, "malformed"},
		{"OKShapeButEndpointRefused", `{"provider":"autotask","username":"u","secret":"s","integrationCode":"c",` + ep + `}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.admin(tenantA, "PUT", "/v1/integration", []byte(tc.body), nil)
			if tc.want == "" {
				// Valid shape, unknown user: the PSA's refusal.
				if rec.Code != http.StatusUnprocessableEntity {
					t.Fatalf("got %d %s, want 422", rec.Code, rec.Body)
				}
				return
			}
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("got %d %s, want 400 naming %q", rec.Code, rec.Body, tc.want)
			}
		})
	}
	t.Run("ErrEndpointsNotAllowed", func(t *testing.T) {
		strict := newPSAEnv(t, func(c *httpapi.Config) { c.AllowCustomEndpoints = false })
		body := mustJSON(t, map[string]any{"provider": "autotask", "username": atUser, "secret": atSecret, "integrationCode": atCode,
			"endpoints": map[string]string{"autotaskZoneUrl": "https://evil.example/"}})
		rec := strict.admin(tenantA, "PUT", "/v1/integration", body, nil)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "endpoints cannot be set") {
			t.Fatalf("got %d %s, want 400", rec.Code, rec.Body)
		}
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		rec := e.admin(tenantA, "PUT", "/v1/integration", []byte(`{"provider":"`+strings.Repeat("a", 1<<20)+`"}`), nil)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d, want 413", rec.Code)
		}
	})
}

// TestVerifyBeforeSave: credentials the PSA refuses give 422 with the PSA's
// reason, and nothing is stored in DynamoDB or Secrets Manager.
func TestVerifyBeforeSave(t *testing.T) {
	e := newPSAEnv(t)
	for _, tc := range []struct {
		name   string
		tenant string
		body   []byte
	}{
		{"AutotaskWrongSecret", tenantA, e.autotaskBody(wrongSecret)},
		{"ConnectWiseWrongKey", tenantB, e.connectWiseBody(wrongPrivate)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.admin(tc.tenant, "PUT", "/v1/integration", tc.body, nil)
			var body struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			}
			mustDecode(t, rec.Body, &body)
			if rec.Code != http.StatusUnprocessableEntity || body.Code != "rejected" || !strings.Contains(body.Message, "refused") {
				t.Fatalf("got %d %+v, want 422 rejected with the PSA's reason", rec.Code, body)
			}
			if _, err := e.Store.Integration(ctx(), tc.tenant); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("DynamoDB: got %v, want no integration stored", err)
			}
			if _, err := e.Secrets.FreshPSACredentials(ctx(), tc.tenant); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("Secrets Manager: got %v, want no credentials stored", err)
			}
		})
	}
}

// TestDeleteIntegration: every item of A's integration goes (settings,
// company types, mappings, rules, runs and entries, anything under A's
// child partitions), the secret is scheduled for deletion, usage and org
// registrations stay, and tenant B is untouched.
func TestDeleteIntegration(t *testing.T) {
	e := newPSAEnv(t)
	secretA := e.mustProvision(tenantA)
	e.mustConnect()
	if rec := e.signed("PUT", "/v1/orgs/acme-org-1", tenantA, []byte(`{"name":"Acme Org One"}`), secretA); rec.Code != 200 {
		t.Fatalf("register org: %d %s", rec.Code, rec.Body)
	}
	usage := []byte(`{"observations":[{"org":"acme-org-1","value":12,"observedAt":"2026-11-20T10:00:00Z"}]}`)
	if rec := e.signed("POST", "/v1/usage", tenantA, usage, secretA); rec.Code != 200 {
		t.Fatalf("usage: %d %s", rec.Code, rec.Body)
	}
	e.mustMap("acme-org-1")
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/v1/integration/company-types", `{"companyTypeIds":[1,3]}`},
		{"PATCH", "/v1/billing-settings", `{"timeZone":"Europe/Berlin","unitCost":{"users":4.5}}`},
		{"PUT", "/v1/alert-rules/user_lockout", `{"enabled":true,"priorityId":1,"statusId":1}`},
	} {
		if rec := e.admin(tenantA, req.method, req.path, []byte(req.body), mergePatch()); rec.Code != http.StatusOK {
			t.Fatalf("%s %s: got %d %s", req.method, req.path, rec.Code, rec.Body)
		}
	}
	// A run with entries, as the billing sync stores them: under the run
	// item's child partition.
	mustPutItem(t, e.Store, "T#"+tenantA, "RUN#r1", nil)
	mustPutItem(t, e.Store, "T#"+tenantA+"#RUN#r1", "E#acme-org-1#users", nil)
	mustPutItem(t, e.Store, "T#"+tenantA, "FUTURE#kind", nil)
	// Tenant B's configuration, which must survive.
	if rec := e.admin(tenantB, "PATCH", "/v1/billing-settings", []byte(`{"timeZone":"Europe/Paris"}`), mergePatch()); rec.Code != 200 {
		t.Fatalf("B settings: %d", rec.Code)
	}
	before := mustItems(t, e.Store, tenantB)

	rec := e.admin(tenantA, "DELETE", "/v1/integration", nil, nil)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("got %d %s, want 204", rec.Code, rec.Body)
	}
	left := mustItems(t, e.Store, tenantA)
	for k, item := range left {
		pk, sk, _ := strings.Cut(k, " ")
		switch {
		case pk != "T#"+tenantA:
			t.Errorf("item %s survived", k)
		case sk == "TENANT" || strings.HasPrefix(sk, "USAGE#"):
		case sk == "ORG#acme-org-1":
			for attr := range item {
				if !map[string]bool{"PK": true, "SK": true, "org": true, "name": true, "createdAt": true}[attr] {
					t.Errorf("org item keeps %q", attr)
				}
			}
		default:
			t.Errorf("item %s survived", k)
		}
	}
	if len(left) != 3 {
		t.Errorf("got %d items left (%v), want tenant, usage and org registration", len(left), keys(left))
	}
	if _, err := e.Secrets.FreshPSACredentials(ctx(), tenantA); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("got %v, want the credentials scheduled for deletion (not readable)", err)
	}
	if after := mustItems(t, e.Store, tenantB); len(after) != len(before) {
		t.Errorf("tenant B: got %d items, want %d", len(after), len(before))
	}
	if _, err := e.Secrets.FreshPSACredentials(ctx(), tenantB); err != nil {
		t.Errorf("tenant B's credentials: %v", err)
	}
	if o, err := e.Store.Org(ctx(), tenantA, "acme-org-1"); err != nil || o.State() != billing.Unmapped || o.Name != "Acme Org One" {
		t.Errorf("got %+v %v, want the org registered and unmapped", o, err)
	}
	t.Run("ErrAgain", func(t *testing.T) {
		if rec := e.admin(tenantA, "DELETE", "/v1/integration", nil, nil); rec.Code != http.StatusNotFound {
			t.Fatalf("got %d, want 404", rec.Code)
		}
	})
	t.Run("Reconnect", func(t *testing.T) {
		// A secret pending deletion is restored by the next PUT.
		if rec := e.admin(tenantA, "PUT", "/v1/integration", e.autotaskBody(atSecret), nil); rec.Code != http.StatusOK {
			t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
		}
	})
}

func TestCompanyTypes(t *testing.T) {
	e := newPSAEnv(t)
	e.mustConnect()
	t.Run("DefaultSelection", func(t *testing.T) {
		for tenant, want := range map[string]string{tenantA: `{"id":1,"name":"Customer","isDefault":true,"selected":true}`, tenantB: `{"id":71,"name":"Client","isDefault":false,"selected":true}`} {
			rec := e.admin(tenant, "GET", "/v1/psa/company-types", nil, nil)
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
				t.Errorf("%s: got %d %s, want %s", tenant, rec.Code, rec.Body, want)
			}
		}
	})
	t.Run("Choose", func(t *testing.T) {
		rec := e.admin(tenantA, "PUT", "/v1/integration/company-types", []byte(`{"companyTypeIds":[3,1,3]}`), nil)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"companyTypeIds":[1,3]`) {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
		rec = e.admin(tenantA, "GET", "/v1/psa/companies", nil, nil)
		if !strings.Contains(rec.Body.String(), "Gamma Prospect") || strings.Contains(rec.Body.String(), "Acme Vendor") {
			t.Fatalf("got %s, want customers and prospects only", rec.Body)
		}
	})
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"ErrEmpty", `{"companyTypeIds":[]}`, 400},
		{"ErrUnknownType", `{"companyTypeIds":[999]}`, 422},
		{"ErrWrongType", `{"companyTypeIds":"1"}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rec := e.admin(tenantA, "PUT", "/v1/integration/company-types", []byte(tc.body), nil); rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
	t.Run("ErrNoIntegration", func(t *testing.T) {
		if rec := e.admin("gamma-msp", "GET", "/v1/psa/company-types", nil, nil); rec.Code != 404 {
			t.Fatalf("got %d, want 404", rec.Code)
		}
	})
}

func TestTicketing(t *testing.T) {
	e := newPSAEnv(t)
	e.mustConnect()
	rec := e.admin(tenantA, "PUT", "/v1/ticketing", []byte(`{"enabled":true}`), nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"enabled":true`) {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	if in, _ := e.Store.Integration(ctx(), tenantA); !in.TicketingEnabled {
		t.Fatal("got ticketing off in the store, want on")
	}
	if rec := e.admin(tenantA, "GET", "/v1/ticketing", nil, nil); !strings.Contains(rec.Body.String(), `"enabled":true`) {
		t.Fatalf("GET: got %s", rec.Body)
	}
	for name, body := range map[string]string{"ErrMissing": `{}`, "ErrType": `{"enabled":"yes"}`} {
		t.Run(name, func(t *testing.T) {
			if rec := e.admin(tenantA, "PUT", "/v1/ticketing", []byte(body), nil); rec.Code != 400 {
				t.Fatalf("got %d, want 400", rec.Code)
			}
		})
	}
	t.Run("ErrStale", func(t *testing.T) {
		if rec := e.admin(tenantA, "PUT", "/v1/ticketing", []byte(`{"enabled":false}`), ifMatch(`"1"`)); rec.Code != 412 {
			t.Fatalf("got %d, want 412", rec.Code)
		}
	})
}

// TestPutIntegrationLocalEndpointRefused: where the dialer may not call
// loopback (the default, as in AWS), endpoints on this machine are 400
// naming the address and why, not "the PSA did not accept these
// credentials": no PSA was asked.
func TestPutIntegrationLocalEndpointRefused(t *testing.T) {
	e := newPSAEnv(t, func(c *httpapi.Config) { c.Dial = vendorDial })
	rec := e.admin(tenantA, "PUT", "/v1/integration", e.autotaskBody(atSecret), nil)
	host := strings.TrimPrefix(e.URL, "http://")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "http://"+host+" is not allowed") || strings.Contains(rec.Body.String(), "did not accept") {
		t.Fatalf("got %d %s, want 400 naming http://%s", rec.Code, rec.Body, host)
	}
}
