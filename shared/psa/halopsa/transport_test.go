package halopsa

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
)

var ctx = context.Background()

// fake is a scriptable Halo: a token endpoint and an API whose answers a
// test decides. It counts requests by "METHOD /path".
type fake struct {
	t   *testing.T
	srv *httptest.Server
	now time.Time

	mu       sync.Mutex
	hits     map[string]int
	tokens   int
	ttl      int
	bad      map[string]bool // tokens the API refuses
	tenant   string          // of the last token request
	tokenErr func(w http.ResponseWriter) bool
	api      func(w http.ResponseWriter, r *http.Request)
	slept    []time.Duration
}

func newFake(t *testing.T, api func(w http.ResponseWriter, r *http.Request)) *fake {
	f := &fake{t: t, hits: map[string]int{}, ttl: 3600, bad: map[string]bool{}, api: api,
		now: time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits[r.Method+" "+r.URL.Path]++
	f.mu.Unlock()
	if r.URL.Path == "/auth/token" {
		f.mu.Lock()
		f.tenant = r.URL.Query().Get("tenant")
		f.mu.Unlock()
		if f.tokenErr != nil && f.tokenErr(w) {
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" ||
			r.PostForm.Get("client_id") != "app-id" || r.PostForm.Get("client_secret") != "app-secret" || r.PostForm.Get("scope") != "all" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"The client credentials are invalid."}`))
			return
		}
		f.mu.Lock()
		f.tokens++
		tok := "tok" + strconv.Itoa(f.tokens)
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": f.ttl})
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	refused := f.bad[tok] || !strings.HasPrefix(tok, "tok")
	f.mu.Unlock()
	if refused {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	f.api(w, r)
}

func (f *fake) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[key]
}

func (f *fake) client(t *testing.T) *Client {
	t.Helper()
	c, err := New(Config{
		Credentials: psa.Credentials{Provider: psa.HaloPSA, Host: "acme.halopsa.com", ClientID: "app-id", ClientSecret: "app-secret"},
		Endpoints:   psa.Endpoints{HaloPSAAuthURL: f.srv.URL + "/auth", HaloPSAAPIURL: f.srv.URL + "/api/"},
		Options: psahttp.Options{
			HTTPClient: psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: true}, 5*time.Second),
			Now:        func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now },
			Retry: psahttp.Retrier{MaxAttempts: 3, Sleep: func(_ context.Context, d time.Duration) error {
				f.mu.Lock()
				f.slept = append(f.slept, d)
				f.mu.Unlock()
				return nil
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func TestValidHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"acme.halopsa.com", true},
		{"ACME.HaloPSA.com.", true},
		{"support.msp-example.co.uk", true},
		{"halo", false},
		{"127.0.0.1", false},
		{"127.1", false},
		{"[::1]", false},
		{"169.254.169.254", false},
		{"acme.halopsa.com:8443", false},
		{"https://acme.halopsa.com", false},
		{"acme.halopsa.com/api", false},
		{"user@acme.halopsa.com", false},
		{"-acme.halopsa.com", false},
		{"", false},
	} {
		if got := ValidHost(tc.host); got != tc.want {
			t.Errorf("ValidHost(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

func TestCloudHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"acme.halopsa.com", true},
		{"Acme.HaloITSM.com.", true},
		{"acme.haloservicedesk.com", true},
		{"halopsa.com", false},
		{".halopsa.com", false},
		{"acme.halopsa.com.evil.example", false},
		{"acmehalopsa.com", false},
		{"support.msp-example.co.uk", false},
		{"169.254.169.254", false},
		{"", false},
	} {
		if got := CloudHost(tc.host); got != tc.want {
			t.Errorf("CloudHost(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	good := psa.Credentials{Provider: psa.HaloPSA, Host: "acme.halopsa.com", ClientID: "id", ClientSecret: "secret"}
	for _, tc := range []struct {
		name    string
		mut     func(*psa.Credentials, *psa.Endpoints)
		wantErr string // "" = a client
		auth    string
	}{
		{"Defaults", func(*psa.Credentials, *psa.Endpoints) {}, "", "https://acme.halopsa.com/auth/"},
		{"EndpointsWithoutHost", func(c *psa.Credentials, e *psa.Endpoints) {
			c.Host, e.HaloPSAAuthURL, e.HaloPSAAPIURL = "", "http://127.0.0.1:9/halopsa/auth", "http://127.0.0.1:9/halopsa/api"
		}, "", "http://127.0.0.1:9/halopsa/auth/"},
		{"ErrWrongProvider", func(c *psa.Credentials, _ *psa.Endpoints) { c.Provider = psa.ConnectWise }, "not halopsa", ""},
		{"ErrNoSecret", func(c *psa.Credentials, _ *psa.Endpoints) { c.ClientSecret = " " }, "clientSecret", ""},
		{"ErrNoClientID", func(c *psa.Credentials, _ *psa.Endpoints) { c.ClientID = "" }, "clientId", ""},
		{"ErrNoHost", func(c *psa.Credentials, e *psa.Endpoints) { c.Host, e.HaloPSAAuthURL = "", "https://x.example/auth/" }, "host", ""},
		{"ErrHostWithScheme", func(c *psa.Credentials, _ *psa.Endpoints) { c.Host = "https://acme.halopsa.com" }, "host name", ""},
		{"ErrHostIP", func(c *psa.Credentials, _ *psa.Endpoints) { c.Host = "10.0.0.8" }, "host name", ""},
		{"ErrHostNotCloud", func(c *psa.Credentials, _ *psa.Endpoints) { c.Host = "halo.msp-example.com" }, "cloud host", ""},
		{"ErrHostNotCloudOneEndpoint", func(c *psa.Credentials, e *psa.Endpoints) {
			c.Host, e.HaloPSAAuthURL = "halo.msp-example.com", "https://halo.msp-example.com/auth/"
		}, "cloud host", ""},
		{"OnPremiseWithEndpoints", func(c *psa.Credentials, e *psa.Endpoints) {
			c.Host, e.HaloPSAAuthURL, e.HaloPSAAPIURL = "halo.msp-example.com", "https://halo.msp-example.com/auth", "https://halo.msp-example.com/api"
		}, "", "https://halo.msp-example.com/auth/"},
		{"ErrTenant", func(c *psa.Credentials, _ *psa.Endpoints) { c.Tenant = "acme&scope=x" }, "tenant", ""},
		{"ErrRelativeEndpoint", func(_ *psa.Credentials, e *psa.Endpoints) { e.HaloPSAAPIURL = "/api/" }, "absolute", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr, ep := good, psa.Endpoints{}
			tc.mut(&cr, &ep)
			c, err := New(Config{Credentials: cr, Endpoints: ep})
			if tc.wantErr != "" {
				if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.MessageOf(err), tc.wantErr) {
					t.Fatalf("got %v, want invalid mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.authURL != tc.auth || c.Provider() != psa.HaloPSA {
				t.Errorf("auth URL %q provider %s, want %q halopsa", c.authURL, c.Provider(), tc.auth)
			}
		})
	}
}

// TestToken: one token serves many calls until it is about to expire; a
// 401 takes a new one once; a second 401 is Unauthorized; refused client
// credentials are Unauthorized with the OAuth description.
func TestToken(t *testing.T) {
	me := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"id": 41, "name": "API Agent"})
	}
	t.Run("CachedUntilNearExpiry", func(t *testing.T) {
		f := newFake(t, me)
		c := f.client(t)
		for range 3 {
			if err := c.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if f.tokens != 1 {
			t.Fatalf("%d tokens for 3 calls, want 1", f.tokens)
		}
		f.now = f.now.Add(59*time.Minute + 1*time.Second) // inside the last minute
		if err := c.Verify(ctx); err != nil {
			t.Fatal(err)
		}
		if f.tokens != 2 {
			t.Fatalf("%d tokens after the renewal point, want 2", f.tokens)
		}
	})
	t.Run("ShortLivedRenewsAtNinetyPercent", func(t *testing.T) {
		f := newFake(t, me)
		f.ttl = 300
		c := f.client(t)
		_ = c.Verify(ctx)
		f.now = f.now.Add(269 * time.Second)
		_ = c.Verify(ctx)
		f.now = f.now.Add(2 * time.Second)
		_ = c.Verify(ctx)
		if f.tokens != 2 {
			t.Fatalf("%d tokens, want 2 (renewed after 270 s of 300)", f.tokens)
		}
	})
	t.Run("RevokedTokenRefreshedOnce", func(t *testing.T) {
		f := newFake(t, me)
		c := f.client(t)
		_ = c.Verify(ctx)
		f.bad["tok1"] = true
		if err := c.Verify(ctx); err != nil {
			t.Fatalf("after a revoked token: %v", err)
		}
		if f.tokens != 2 || f.count("GET /api/Agent/me") != 3 {
			t.Fatalf("tokens %d, calls %d; want 2 and 3", f.tokens, f.count("GET /api/Agent/me"))
		}
	})
	t.Run("ErrSecondRefusal", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
		c := f.client(t)
		if err := c.Verify(ctx); !apperr.Is(err, apperr.Unauthorized) {
			t.Fatalf("got %v, want unauthorized", err)
		}
		if f.tokens != 2 || f.count("GET /api/Agent/me") != 2 {
			t.Fatalf("tokens %d, calls %d; want 2 and 2 (one refresh, no loop)", f.tokens, f.count("GET /api/Agent/me"))
		}
	})
	for _, status := range []int{400, 401} {
		t.Run(fmt.Sprintf("ErrBadSecret%d", status), func(t *testing.T) {
			f := newFake(t, me)
			f.tokenErr = func(w http.ResponseWriter) bool {
				writeJSON(w, status, map[string]string{"error": "invalid_client", "error_description": "The client credentials are invalid."})
				return true
			}
			err := f.client(t).Verify(ctx)
			if !apperr.Is(err, apperr.Unauthorized) || !strings.Contains(strings.Join(apperr.DetailsOf(err), " "), "client credentials are invalid") {
				t.Fatalf("got %v (details %v), want unauthorized with Halo's words", err, apperr.DetailsOf(err))
			}
		})
	}
	t.Run("TenantSent", func(t *testing.T) {
		f := newFake(t, me)
		c := f.client(t)
		c.cfg.Credentials.Tenant = "acme"
		if err := c.Verify(ctx); err != nil || f.tenant != "acme" {
			t.Fatalf("err %v tenant %q, want nil and acme", err, f.tenant)
		}
	})
}

// TestErrors: every answer class maps to its apperr code; Halo's words are
// kept verbatim, a foreign body never is.
func TestErrors(t *testing.T) {
	const foreign = "internal-console-token-0451"
	for _, tc := range []struct {
		name        string
		status      int
		body        string
		retryAfter  string
		want        apperr.Code
		wantDetails []string
		calls       int
	}{
		{"ExceptionBody", 400, `{"ClassName":"System.Exception","Message":"Please select a valid Client."}`, "", apperr.Rejected, []string{"Please select a valid Client."}, 1},
		{"StringBody", 400, `"Please enter a summary"`, "", apperr.Rejected, []string{"Please enter a summary"}, 1},
		{"ProblemDetails", 400, `{"title":"One or more validation errors occurred.","status":400,"errors":{"[0].qty_order":["The JSON value could not be converted."]}}`, "", apperr.Rejected,
			[]string{"One or more validation errors occurred.", "[0].qty_order: The JSON value could not be converted."}, 1},
		{"ForeignHTML", 400, `<html>` + foreign + `</html>`, "", apperr.Rejected, nil, 1},
		{"ForeignJSON", 400, `{"status":"nope","note":"` + foreign + `"}`, "", apperr.Rejected, nil, 1},
		{"Forbidden", 403, `{"Message":"You do not have permission"}`, "", apperr.Forbidden, []string{"You do not have permission"}, 1},
		{"NotFound", 404, ``, "", apperr.NotFound, nil, 1},
		{"Throttled", 429, `{"Message":"Rate limit"}`, "7", apperr.Transient, []string{"Rate limit"}, 3},
		{"ThrottledLong", 429, ``, "3600", apperr.Transient, nil, 1},
		{"ServerError", 503, ``, "", apperr.Transient, nil, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			_, err := f.client(t).Company(ctx, 501)
			if !apperr.Is(err, tc.want) {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			if got := apperr.DetailsOf(err); strings.Join(got, "|") != strings.Join(tc.wantDetails, "|") {
				t.Errorf("details %q, want %q", got, tc.wantDetails)
			}
			if strings.Contains(err.Error()+apperr.MessageOf(err), foreign) {
				t.Errorf("a foreign body shows in %q", err)
			}
			if n := f.count("GET /api/Client/501"); n != tc.calls {
				t.Errorf("%d calls, want %d", n, tc.calls)
			}
			if tc.retryAfter != "" {
				want, _ := strconv.Atoi(tc.retryAfter)
				if got := apperr.RetryAfterOf(err); got != time.Duration(want)*time.Second {
					t.Errorf("RetryAfter %v, want %ds", got, want)
				}
			}
		})
	}
	t.Run("WriteNotResentAfterServerError", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
		_, err := f.client(t).CreateTicket(ctx, psa.TicketSpec{CompanyID: 501, Title: "Disk full"})
		if !apperr.Is(err, apperr.Transient) || f.count("POST /api/Tickets") != 1 {
			t.Fatalf("got %v after %d posts, want transient after 1", err, f.count("POST /api/Tickets"))
		}
	})
	t.Run("WriteResentAfterThrottle", func(t *testing.T) {
		n := 0
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			if n++; n == 1 {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(429)
				return
			}
			writeJSON(w, 201, map[string]any{"id": 9001, "client_id": 501, "summary": "Disk full", "status_id": 1})
		})
		tk, err := f.client(t).CreateTicket(ctx, psa.TicketSpec{CompanyID: 501, Title: "Disk full"})
		if err != nil || tk.ID != 9001 || f.count("POST /api/Tickets") != 2 || len(f.slept) != 1 || f.slept[0] != 2*time.Second {
			t.Fatalf("got %+v %v after %d posts (slept %v), want ticket 9001 after 2 posts and a 2 s wait", tk, err, f.count("POST /api/Tickets"), f.slept)
		}
	})
	t.Run("ErrVerifyForeignAnswer", func(t *testing.T) {
		for _, body := range []string{`{"status":"ok"}`, `[]`, `<html>` + foreign + `</html>`, ``} {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
			err := f.client(t).Verify(ctx)
			if !apperr.Is(err, apperr.Rejected) || strings.Contains(err.Error(), foreign) {
				t.Errorf("body %q: got %v, want rejected without the body", body, err)
			}
		}
	})
}

// TestListShapes: a list is read from a bare array or from Halo's envelope
// under the endpoint's key (or its only array).
func TestListShapes(t *testing.T) {
	for _, body := range []string{
		`[{"id":7,"name":"Managed"},{"id":8,"name":"Prospects"}]`,
		`{"record_count":2,"tree":[{"id":7,"name":"Managed"},{"id":8,"name":"Prospects"}]}`,
		`{"record_count":2,"other":3,"toplevels":[{"id":7,"name":"Managed"},{"id":8,"name":"Prospects"}]}`,
	} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
		got, err := f.client(t).CompanyTypes(ctx)
		if err != nil || len(got) != 2 || got[0].ID != 7 || got[1].Name != "Prospects" {
			t.Errorf("%s: got %+v %v", body, got, err)
		}
	}
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"a":[],"b":[]}`)) })
	if _, err := f.client(t).CompanyTypes(ctx); !apperr.Is(err, apperr.Rejected) {
		t.Errorf("ambiguous envelope: got %v, want rejected", err)
	}
}

// clientsAPI serves n clients (ids from 3001) on GET /Client, paged as Halo
// does, and single clients on GET /Client/{id}.
func clientsAPI(n int) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if id, ok := strings.CutPrefix(r.URL.Path, "/api/Client/"); ok {
			v, _ := strconv.Atoi(id)
			if v < 3001 || v >= 3001+n {
				writeJSON(w, 404, map[string]string{"Message": "Client not found."})
				return
			}
			writeJSON(w, 200, map[string]any{"id": v, "name": fmt.Sprintf("Client %d", v), "toplevel_id": 7})
			return
		}
		q := r.URL.Query()
		size, _ := strconv.Atoi(q.Get("page_size"))
		page, _ := strconv.Atoi(q.Get("page_no"))
		var rows []map[string]any
		for i := (page - 1) * size; i < min(n, page*size); i++ {
			rows = append(rows, map[string]any{"id": 3001 + i, "name": fmt.Sprintf("Client %d", 3001+i), "toplevel_id": 7 + i%2, "inactive": i%10 == 9})
		}
		if rows == nil {
			rows = []map[string]any{}
		}
		writeJSON(w, 200, map[string]any{"page_no": page, "page_size": size, "record_count": n, "clients": rows})
	}
}

func TestPaging(t *testing.T) {
	for _, n := range []int{0, 99, 100, 101, 250} {
		f := newFake(t, clientsAPI(n))
		got, err := f.client(t).Companies(ctx, psa.CompanyFilter{})
		if err != nil {
			t.Fatal(err)
		}
		active := n - n/10
		wantPages := max(1, (n+PageSize-1)/PageSize)
		if len(got) != active || f.count("GET /api/Client") != wantPages {
			t.Errorf("n=%d: %d companies in %d requests, want %d in %d", n, len(got), f.count("GET /api/Client"), active, wantPages)
		}
	}
}

// TestPagingIgnored: a server that answers every page_no with the first
// page and no record_count is refused, not paged for ever.
func TestPagingIgnored(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		rows := make([]map[string]any, PageSize)
		for i := range rows {
			rows[i] = map[string]any{"id": 3001 + i, "name": "Client"}
		}
		writeJSON(w, 200, map[string]any{"clients": rows})
	})
	_, err := f.client(t).Companies(ctx, psa.CompanyFilter{})
	if !apperr.Is(err, apperr.Rejected) || f.count("GET /api/Client") != 2 {
		t.Fatalf("got %v after %d pages, want rejected after 2", err, f.count("GET /api/Client"))
	}
}

// TestByIDFloor: reads by id take the fewer of the list's pages and one
// read per missing id.
func TestByIDFloor(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		n                    int
		ids                  []int64
		wantList, wantSingle int
		wantFound            int
	}{
		{"OneID", 1000, []int64{3005}, 0, 1, 1},
		{"FewIDsOnPageOne", 1000, []int64{3001, 3050, 3100}, 1, 0, 3},
		{"FewIDsFarAway", 1000, []int64{3001, 3500, 3900}, 1, 2, 3},
		{"ManyIDs", 1000, func() []int64 {
			var ids []int64
			for i := range 300 {
				ids = append(ids, int64(3001+i*3))
			}
			return ids
		}(), 9, 0, 300},
		{"MissingIDs", 150, []int64{3001, 9999, 8888}, 2, 0, 1},
		{"SmallInstance", 30, []int64{3002, 3029, 4000}, 1, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, clientsAPI(tc.n))
			got, err := f.client(t).CompaniesByID(ctx, tc.ids)
			if err != nil {
				t.Fatal(err)
			}
			single := 0
			for k, v := range f.hits {
				if strings.HasPrefix(k, "GET /api/Client/") {
					single += v
				}
			}
			if len(got) != tc.wantFound || f.count("GET /api/Client") != tc.wantList || single != tc.wantSingle {
				t.Errorf("found %d with %d list and %d single reads, want %d, %d, %d", len(got), f.count("GET /api/Client"), single, tc.wantFound, tc.wantList, tc.wantSingle)
			}
			for _, id := range tc.ids {
				if co, ok := got[id]; ok && (co.ID != id || co.Name != fmt.Sprintf("Client %d", id)) {
					t.Errorf("company %d: %+v", id, co)
				}
			}
		})
	}
}

// TestByIDError: a single read that fails other than NotFound fails the
// whole call with its error (a missing id is only absent, TestByIDFloor).
func TestByIDError(t *testing.T) {
	api := clientsAPI(1000)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/Client/3500" {
			writeJSON(w, 403, map[string]string{"Message": "No permission."})
			return
		}
		api(w, r)
	})
	got, err := f.client(t).CompaniesByID(ctx, []int64{3001, 3500, 3900, 9999})
	if !apperr.Is(err, apperr.Forbidden) || got != nil {
		t.Fatalf("got %v, %v; want forbidden and no companies", got, err)
	}
}

func TestHaloTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{`"2026-01-31T00:00:00"`, time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)},
		{`"2026-01-31T10:20:30.463"`, time.Date(2026, 1, 31, 10, 20, 30, 463e6, time.UTC)},
		{`"2026-01-31T10:20:30Z"`, time.Date(2026, 1, 31, 10, 20, 30, 0, time.UTC)},
		{`"1899-12-30T00:00:00"`, time.Time{}},
		{`"1900-01-01T00:00:00"`, time.Time{}},
		{`""`, time.Time{}},
		{`null`, time.Time{}},
	} {
		var ht haloTime
		if err := json.Unmarshal([]byte(tc.in), &ht); err != nil || !ht.Equal(tc.want) {
			t.Errorf("%s: got %v %v, want %v", tc.in, ht.Time, err, tc.want)
		}
	}
	var ht haloTime
	if err := json.Unmarshal([]byte(`"31/01/2026"`), &ht); err == nil {
		t.Error("a date in another format parsed")
	}
}

// TestQueryEncoding: spaces in a search are %20, the paging parameters are
// Halo's.
func TestQueryEncoding(t *testing.T) {
	var got url.Values
	var raw string
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		got, raw = r.URL.Query(), r.URL.RawQuery
		writeJSON(w, 200, map[string]any{"record_count": 0, "clients": []any{}})
	})
	if _, err := f.client(t).Companies(ctx, psa.CompanyFilter{NameContains: "Contoso Labs", TypeIDs: []int64{7}}); err != nil {
		t.Fatal(err)
	}
	if got.Get("search") != "Contoso Labs" || !strings.Contains(raw, "search=Contoso%20Labs") || got.Get("pageinate") != "true" ||
		got.Get("page_size") != "100" || got.Get("page_no") != "1" || got.Get("toplevel_id") != "7" || got.Get("includeinactive") != "false" {
		t.Errorf("query %q", raw)
	}
}

// TestCreateLineAnswers: the new line is read from the answer whichever
// shape Halo gives it: the line, an array of lines, or the header with its
// lines (the newest line of the item).
func TestCreateLineAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       int64 // 0: rejected
	}{
		{"Line", `{"id":9101,"ihid":-42,"_itemid":77,"qty_order":3,"unit_price":5,"unit_cost":2}`, 9101},
		{"Array", `[{"id":9102,"ihid":-42,"_itemid":77,"qty_order":3}]`, 9102},
		{"Header", `{"id":-42,"client_id":5,"lines":[{"id":9001,"_itemid":77},{"id":9103,"_itemid":77},{"id":9200,"_itemid":78}]}`, 9103},
		{"ErrHeaderWithoutIt", `{"id":-42,"lines":[{"id":9200,"_itemid":78}]}`, 0},
		{"ErrOtherItem", `{"id":9104,"_itemid":78}`, 0},
		{"ErrNoID", `{"ihid":-42,"_itemid":77}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(tc.body)) })
			l, err := f.client(t).CreateLine(ctx, 42, 77, 3, 2, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
			if tc.want == 0 {
				if !apperr.Is(err, apperr.Rejected) {
					t.Fatalf("got %+v %v, want rejected", l, err)
				}
				return
			}
			if err != nil || l.ID != tc.want || l.ServiceID != 77 || l.ContractID != 42 {
				t.Fatalf("got %+v %v, want line %d", l, err, tc.want)
			}
		})
	}
}
