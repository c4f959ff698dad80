package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/psa"
)

// TestPutIntegrationHaloPSAInvalid: a HaloPSA integration's shape is
// checked field by field before any request, on a deployment that takes no
// custom endpoints (production's): the host is named without scheme, port
// or path, and the other PSAs' fields are refused; a host that is not a
// Halo cloud instance is refused by the client before it sends anything
// (halopsa.CloudHost).
func TestPutIntegrationHaloPSAInvalid(t *testing.T) {
	e := newPSAEnv(t, func(c *httpapi.Config) { c.AllowCustomEndpoints, c.Endpoints = false, psa.Endpoints{} })
	halo := `"provider":"halopsa","clientId":"app-1","clientSecret":"HALO-SECRET-x"`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"ErrMissingHost", `{` + halo + `}`, "host is required for halopsa"},
		{"ErrMissingClientSecret", `{"provider":"halopsa","host":"contoso.halopsa.com","clientId":"app-1"}`, "clientSecret is required"},
		{"ErrMissingClientID", `{"provider":"halopsa","host":"contoso.halopsa.com","clientSecret":"s"}`, "clientId is required"},
		{"ErrHostWithScheme", `{` + halo + `,"host":"https://contoso.halopsa.com"}`, "without https://"},
		{"ErrHostWithPort", `{` + halo + `,"host":"127.0.0.1:8443"}`, "endpoints.halopsaAuthUrl"},
		{"ErrHostWithPath", `{` + halo + `,"host":"contoso.halopsa.com/api"}`, "host name like contoso.halopsa.com"},
		{"ErrHostNotHalo", `{` + halo + `,"host":"metadata.internal.example"}`, "must be a Halo cloud host"},
		{"ErrHostIsTheDomain", `{` + halo + `,"host":"halopsa.com"}`, "must be a Halo cloud host"},
		{"ErrHostLookalike", `{` + halo + `,"host":"contoso.halopsa.com.evil.example"}`, "must be a Halo cloud host"},
		{"ErrBadTenant", `{` + halo + `,"host":"contoso.halopsa.com","tenant":"a b/c"}`, "tenant must be"},
		{"ErrOtherProvidersField", `{` + halo + `,"host":"contoso.halopsa.com","site":"na.myconnectwise.net"}`, "site is not used by halopsa"},
		{"ErrHaloFieldForAutotask", `{"provider":"autotask","username":"u","secret":"s","integrationCode":"c","clientSecret":"x"}`, "clientSecret is not used by autotask"},
		{"ErrHaloTenantForConnectWise", `{"provider":"connectwise","site":"na.myconnectwise.net","companyId":"c","publicKey":"p","privateKey":"k","clientId":"i","tenant":"t"}`, "tenant is not used by connectwise"},
		{"ErrMaskedWithoutStoredSecret", `{` + strings.Replace(halo, "HALO-SECRET-x", "********", 1) + `,"host":"contoso.halopsa.com"}`, "no stored halopsa secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.admin(tenantA, "PUT", "/v1/integration", []byte(tc.body), nil)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("got %d %s, want 400 naming %q", rec.Code, rec.Body, tc.want)
			}
			if strings.Contains(rec.Body.String(), "HALO-SECRET-x") {
				t.Fatalf("the answer echoes the client secret: %s", rec.Body)
			}
			if n := e.Sandbox.Total("autotask") + e.Sandbox.Total("connectwise"); n != 0 {
				t.Fatalf("%d PSA requests, want none before the shape is valid", n)
			}
		})
	}
	t.Run("ErrBadHaloEndpoint", func(t *testing.T) {
		custom := newPSAEnv(t)
		body := `{` + halo + `,"host":"contoso.halopsa.com","endpoints":{"halopsaAuthUrl":"ftp://x/","halopsaApiUrl":"` + custom.URL + `/"}}`
		rec := custom.admin(tenantA, "PUT", "/v1/integration", []byte(body), nil)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "endpoints.halopsaAuthUrl must be an http(s) URL") {
			t.Fatalf("got %d %s, want 400 naming endpoints.halopsaAuthUrl", rec.Code, rec.Body)
		}
	})
	t.Run("ErrOneEndpointKeepsHostGuard", func(t *testing.T) {
		// With only the API endpoint set, the token would still be fetched
		// from https://{host}/auth/: the host is held to Halo's domains.
		custom := newPSAEnv(t)
		body := `{` + halo + `,"host":"intranet.example","endpoints":{"halopsaApiUrl":"` + custom.URL + `/halopsa/api/"}}`
		rec := custom.admin(tenantA, "PUT", "/v1/integration", []byte(body), nil)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "must be a Halo cloud host") {
			t.Fatalf("got %d %s, want 400 naming the host", rec.Code, rec.Body)
		}
	})
}

// TestPutIntegrationHaloPSA: a HaloPSA integration is verified against the
// sandbox's Halo (token, then GET /Agent/me) before anything is stored; GET
// shows host and client id and masks the client secret, and that body PUT
// back keeps the stored secret. A secret Halo refuses is 422 with Halo's
// reason and nothing is stored.
func TestPutIntegrationHaloPSA(t *testing.T) {
	e := newPSAEnv(t)
	t.Run("ErrWrongSecret", func(t *testing.T) {
		rec := e.admin(tenantC, "PUT", "/v1/integration", e.haloBody(wrongHaloSecret), nil)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "refused") {
			t.Fatalf("got %d %s, want 422 with the PSA's reason", rec.Code, rec.Body)
		}
		if _, err := e.Store.Integration(ctx(), tenantC); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("DynamoDB: got %v, want no integration stored", err)
		}
		if _, err := e.Secrets.FreshPSACredentials(ctx(), tenantC); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Secrets Manager: got %v, want no credentials stored", err)
		}
	})
	rec := e.admin(tenantC, "PUT", "/v1/integration", e.haloBody(haloSecret), nil)
	if rec.Code != http.StatusOK || rec.Header().Get("ETag") != `"1"` {
		t.Fatalf("got %d %s etag %q, want 200 etag \"1\"", rec.Code, rec.Body, rec.Header().Get("ETag"))
	}
	got := e.admin(tenantC, "GET", "/v1/integration", nil, nil)
	var view map[string]any
	mustDecode(t, got.Body, &view)
	if view["provider"] != "halopsa" || view["host"] != "gamma.halopsa.com" || view["clientId"] != haloApp || view["clientSecret"] != "********" {
		t.Fatalf("GET: got %v, want host, clientId and the client secret masked", view)
	}
	creds, err := e.Secrets.FreshPSACredentials(ctx(), tenantC)
	if err != nil || creds.ClientSecret != haloSecret || creds.Host != "gamma.halopsa.com" {
		t.Fatalf("stored credentials: got host %q (%v), want the secret and host stored", creds.Host, err)
	}
	t.Run("GetBodyPutBack", func(t *testing.T) {
		body := mustJSON(t, view)
		rec := e.admin(tenantC, "PUT", "/v1/integration", body, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
		}
		if c, err := e.Secrets.FreshPSACredentials(ctx(), tenantC); err != nil || c.ClientSecret != haloSecret {
			t.Errorf("the masked secret replaced the stored one (%v)", err)
		}
	})
}

// TestAlertRulesHaloPSA: a HaloPSA rule picks a team (queueId), a ticket
// type (issueTypeId), an agent (resourceId, no role) and Halo's statuses
// and priorities, each checked against the instance; the fields Halo has
// no counterpart for are refused.
func TestAlertRulesHaloPSA(t *testing.T) {
	e := newPSAEnv(t)
	if rec := e.admin(tenantC, "PUT", "/v1/integration", e.haloBody(haloSecret), nil); rec.Code != http.StatusOK {
		t.Fatalf("connect: got %d %s", rec.Code, rec.Body)
	}
	// sandbox.HaloDefaultStatuses: 4101 New, 4109 Closed.
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"OK", `{"enabled":true,"priorityId":9701,"statusId":4101,"queueId":9801,"issueTypeId":9601,"resourceId":9901,"dueDays":1,"closeOnResolve":true,"completeStatusId":4109}`, 200},
		{"ErrSourceOnHalo", `{"enabled":true,"sourceId":1}`, 400},
		{"ErrRoleOnHalo", `{"enabled":true,"resourceId":9901,"roleId":6001}`, 400},
		{"ErrBoardOnHalo", `{"enabled":true,"boardId":7501}`, 400},
		{"ErrCategoryOnHalo", `{"enabled":true,"categoryId":4}`, 400},
		{"ErrUnknownTeam", `{"enabled":true,"queueId":9899}`, 422},
		{"ErrUnknownTicketType", `{"enabled":true,"issueTypeId":9699}`, 422},
		{"ErrUnknownAgent", `{"enabled":true,"resourceId":9999}`, 422},
		{"ErrCompleteNotClosing", `{"closeOnResolve":true,"completeStatusId":4101}`, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.admin(tenantC, "PUT", "/v1/alert-rules/backup_failed", []byte(tc.body), nil)
			if rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
}

// TestPickersHaloPSA: the pickers on HaloPSA list top levels as company
// types, clients, recurring invoices as contracts (ids positive: Halo's
// negative header ids negated) without the disabled one, their lines, and
// the ticket and catalog options.
func TestPickersHaloPSA(t *testing.T) {
	e := newPSAEnv(t)
	if rec := e.admin(tenantC, "PUT", "/v1/integration", e.haloBody(haloSecret), nil); rec.Code != http.StatusOK {
		t.Fatalf("connect: got %d %s", rec.Code, rec.Body)
	}
	// Chosen explicitly (top level 91 "Client" is also the default).
	if rec := e.admin(tenantC, "PUT", "/v1/integration/company-types", []byte(`{"companyTypeIds":[91]}`), nil); rec.Code != http.StatusOK {
		t.Fatalf("company types: got %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		name, path string
		contains   []string
		lacks      []string
	}{
		{"CompanyTypes", "/v1/psa/company-types", []string{`"id":91,"name":"Client","isDefault":false,"selected":true`, `"id":92,"name":"Suppliers","isDefault":false,"selected":false`}, nil},
		{"Companies", "/v1/psa/companies", []string{`"id":9101,"name":"Gamma Labs"`}, nil},
		{"Contracts", "/v1/psa/companies/9101/contracts", []string{`"id":9201`, "Gamma Managed Services"}, []string{`"id":-9201`, "Gamma 2019"}},
		{"Lines", "/v1/psa/contracts/9201/lines", []string{`"id":9301`, `"serviceId":9401`}, nil},
		{"TicketOptions", "/v1/psa/ticket-options", []string{`"queues":[{"id":9801,"name":"Alerts"`, `"issueTypes":[{"id":9601`, `"resources":[{"id":9901`, `"closed":true`}, []string{`"boards"`, `"roles"`}},
		{"CatalogOptions", "/v1/psa/catalog-options", []string{`"productTypes":[{"id":9501,"name":"Managed services"`, `"billingCodes":[]`, `"subcategories":[]`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.admin(tenantC, "GET", tc.path, nil, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(rec.Body.String(), c) {
					t.Errorf("got %s, want it to contain %s", rec.Body, c)
				}
			}
			for _, c := range tc.lacks {
				if strings.Contains(rec.Body.String(), c) {
					t.Errorf("got %s, want no %s", rec.Body, c)
				}
			}
		})
	}
}
