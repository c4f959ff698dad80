package devstack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apiclient"
	"github.com/psabridge/psabridge/shared/billing"
)

// TestOwnTenant follows docs/LOCAL.md "A tenant of your own" step by step,
// over HTTP against a running stack: provision, -admin-token, PUT
// /v1/integration with endpoints, usage, pickers, mapping, sync.
func TestOwnTenant(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	keyFile := filepath.Join(t.TempDir(), ".local", "dev-jwt-key.pem")
	s, err := Start(ctx, Options{Addr: "127.0.0.1:0", UseEnvAWS: true, KeyFile: keyFile})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Close)
	c := &Client{Base: s.APIURL, Now: s.now}
	op, err := s.OperatorToken()
	if err != nil {
		t.Fatal(err)
	}

	// 1. Provision.
	var tenant struct {
		SigningSecret struct {
			Value string `json:"value"`
		} `json:"signingSecret"`
	}
	if err := c.Call(ctx, http.MethodPost, "/v1/platform/tenants", op, map[string]string{"id": "my-msp"}, &tenant); err != nil {
		t.Fatalf("provision: %v", err)
	}
	// 2. -admin-token.
	token, err := AdminTokenFromKeyFile(ctx, s.APIURL, keyFile, "my-msp", s.now())
	if err != nil {
		t.Fatalf("admin token: %v", err)
	}
	// 3. The integration, pointed at the sandbox with endpoints.
	at := autotaskSeed(s.Seed, "psabridge-api@northwind-msp.example")
	integration := map[string]any{"provider": "autotask", "username": at.Username, "secret": at.Secret, "integrationCode": at.IntegrationCode,
		"endpoints": map[string]string{"autotaskZoneUrl": s.SandboxURL + "/autotask/atservicesrest/"}}
	if err := c.Call(ctx, http.MethodPut, "/v1/integration", token, integration, nil); err != nil {
		t.Fatalf("integration: %v", err)
	}
	// 3b. The company types the pickers show.
	var types json.RawMessage
	if err := c.Call(ctx, http.MethodGet, "/v1/psa/company-types", token, nil, &types); err != nil || !strings.Contains(string(types), `"id":101,"name":"Managed Services Client"`) {
		t.Fatalf("company types: got %s (%v), want 101 Managed Services Client", types, err)
	}
	if err := c.Call(ctx, http.MethodPut, "/v1/integration/company-types", token, map[string][]int64{"companyTypeIds": {101}}, nil); err != nil {
		t.Fatalf("company types: %v", err)
	}
	// 4. Usage, signed as the platform (-post-usage).
	if _, err := PostUsageSample(ctx, s.APIURL, "my-msp", tenant.SigningSecret.Value, filepath.Join("..", "..", "events", "local", "usage.json")); err != nil {
		t.Fatalf("usage: %v", err)
	}
	// 5. The pickers lead to the ids LOCAL.md names; map.
	for path, want := range map[string]string{
		"/v1/psa/companies?q=harbor":      `"id":301,"name":"Harbor Dental Group"`,
		"/v1/psa/companies/301/contracts": `"id":501`,
		"/v1/psa/contracts/501/lines":     `"id":901`,
	} {
		var got json.RawMessage
		if err := c.Call(ctx, http.MethodGet, path, token, nil, &got); err != nil || !strings.Contains(string(got), want) {
			t.Fatalf("GET %s: got %s (%v), want %s", path, got, err, want)
		}
	}
	// The mapping through the generated client, as docs/CLIENT.md's
	// example script does it.
	api, err := apiclient.NewClientWithResponses(s.APIURL, apiclient.WithRequestEditorFn(apiclient.Bearer(token)))
	if err != nil {
		t.Fatal(err)
	}
	users := "users"
	mapped, err := api.PutMappingWithResponse(ctx, "org-harbor-dental", nil, apiclient.MappingRequest{
		CompanyId: 301, ContractId: 501, Lines: []apiclient.LineMapping{{Product: &users, LineId: 901}}})
	if err != nil {
		t.Fatalf("mapping: %v", err)
	}
	if mapped.JSON200 == nil || mapped.JSON200.ContractId != 501 {
		t.Fatalf("mapping: got %s %s, want 200 with the mapping", mapped.Status(), mapped.Body)
	}
	// 6. Sync.
	d := &Demo{Stack: s, Out: io.Discard}
	res, err := d.runSync(ctx, c, TenantResult{ID: "my-msp", AdminToken: token})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if res.Run.Status != billing.Succeeded || len(res.Entries) != 1 || res.Entries[0].Code != billing.CodeUpdated || res.Entries[0].After == nil || res.Entries[0].After.Quantity != 31 {
		t.Fatalf("got run %+v entries %+v, want one line updated to 31 users", res.Run, res.Entries)
	}
}

// TestAdminTokenFromKeyFile: a token only for the stack that wrote the key,
// a plain word when there is none, and a refusal of a tenant the stack
// never provisioned.
func TestAdminTokenFromKeyFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Start(ctx, Options{Addr: "127.0.0.1:0", UseEnvAWS: true, KeyFile: filepath.Join(dir, "a.pem")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if _, err := devKey(filepath.Join(dir, "b.pem"), false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"ErrNoKey", filepath.Join(dir, "none.pem"), "start the stack first"},
		{"ErrOtherStacksKey", filepath.Join(dir, "b.pem"), "does not accept tokens"},
		{"ErrUnknownTenant", filepath.Join(dir, "a.pem"), `has no tenant "no-such-msp": provision it first`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := AdminTokenFromKeyFile(ctx, s.APIURL, tc.file, "no-such-msp", s.now()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	t.Run("KeepKey", func(t *testing.T) {
		k1, err := devKey(filepath.Join(dir, "keep.pem"), true)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := devKey(filepath.Join(dir, "keep.pem"), true)
		if err != nil || !k1.Equal(k2) {
			t.Fatalf("got another key (%v), want the kept one", err)
		}
		k3, err := devKey(filepath.Join(dir, "keep.pem"), false)
		if err != nil || k1.Equal(k3) {
			t.Fatalf("got the same key (%v), want a new one without keep", err)
		}
	})
}
