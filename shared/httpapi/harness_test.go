package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/psabridge/psabridge/shared/apiclient"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/iamcalls"
	"github.com/psabridge/psabridge/shared/iamcalls/iamcallstest"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/connect"
	"github.com/psabridge/psabridge/shared/secrets"
	"github.com/psabridge/psabridge/shared/secrets/secretstest"
	"github.com/psabridge/psabridge/shared/signature"
)

// TestMain records the AWS calls of the api and the webhook, told apart by
// route (iamcalls.HTTP), and of the fan-out and sync worker run-now wires
// in (iamcallstest: infra/testdata/aws-calls-httpapi.json; after a change
// in them, rerun the package with -update-aws-calls).
func TestMain(m *testing.M) { iamcallstest.Main(m, "httpapi") }

// testStart is every API test's clock at its start (tests move it on).
var testStart = time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC)

// testAPI is the REST API on DynamoDB Local and moto, with a dev signing key.
type testAPI struct {
	tb      testing.TB
	Handler *httpapi.Handler
	Store   *dynamo.Store
	Secrets *secrets.Store
	Key     ed25519.PrivateKey
	// Operator is the operators' bearer token (OperatorTokenAuthenticator).
	Operator string
	Now      time.Time
	Logs     *bytes.Buffer
}

const (
	testIssuer   = "https://issuer.test"
	testAudience = "psabridge-test"
)

// newAPI builds the handler over a fresh table and secret prefix. mutate, if
// given, adjusts the config before the handler is built.
func newAPI(tb testing.TB, mutate ...func(*httpapi.Config)) *testAPI {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	a := &testAPI{tb: tb, Store: dynamotest.NewStore(tb, nil), Secrets: secretstest.NewStore(tb), Key: priv,
		Operator: "op_" + strings.Repeat("5eed", 16),
		Now:      testStart, Logs: &bytes.Buffer{}}
	cfg := httpapi.Config{
		Store:     a.Store,
		RunLog:    a.Store,
		Alerts:    a.Store,
		Secrets:   a.Secrets,
		Auth:      httpapi.JWTAuthenticator{Key: pub, Issuer: testIssuer, Audience: testAudience, Now: func() time.Time { return a.Now }},
		Operators: httpapi.OperatorTokenAuthenticator{Token: a.Operator},
		Logger:    slog.New(slog.NewJSONHandler(&lockedWriter{w: a.Logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       func() time.Time { return a.Now },
		Dial:      vendorDial,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	a.Handler = httpapi.New(cfg)
	tb.Cleanup(func() {
		// Everything the API logged in this test, at every level.
		for _, secret := range plantedSecrets {
			if bytes.Contains(a.Logs.Bytes(), []byte(secret)) {
				tb.Errorf("the logs contain the planted secret %q", secret)
			}
		}
	})
	return a
}

// vendorDial dials the vendors' clients as AWS does (the composition root
// adds the tenant's budget): real hosts only, loopback refused.
func vendorDial(_ string, creds psa.Credentials, ep psa.Endpoints) (psa.Client, error) {
	return connect.New(creds, ep, connect.Options{Now: func() time.Time { return testStart }})
}

// lockedWriter serializes writes from concurrent handlers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// with returns a copy of a that reports to tb (for fuzz functions, which
// must not use the *testing.F).
func (a *testAPI) with(tb testing.TB) *testAPI {
	c := *a
	c.tb = tb
	return &c
}

// token returns a dev token for tenant with roles.
func (a *testAPI) token(tenant string, roles ...string) string {
	a.tb.Helper()
	tok, err := httpapi.DevToken(a.Key, testIssuer, testAudience, tenant, roles, time.Hour, a.Now)
	if err != nil {
		a.tb.Fatal(err)
	}
	return tok
}

// operatorToken returns the bearer token of the vendor's operators.
func (a *testAPI) operatorToken() string { return a.Operator }

// do serves one request and returns the recorded response, after checking
// the response against the OpenAPI document (every test response is).
func (a *testAPI) do(method, path, token string, body []byte, header http.Header) *httptest.ResponseRecorder {
	a.tb.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for k, vs := range header {
		req.Header[k] = vs
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	iamcalls.HTTP(a.Handler).ServeHTTP(rec, req)
	for _, secret := range plantedSecrets {
		if bytes.Contains(rec.Body.Bytes(), []byte(secret)) || strings.Contains(fmt.Sprint(rec.Header()), secret) {
			a.tb.Fatalf("%s %s: the response contains the planted secret %q", method, path, secret)
		}
	}
	if err := validateResponse(req, rec); err != nil {
		a.tb.Fatalf("%s %s: response %d %s does not match the OpenAPI document: %v", method, path, rec.Code, psa.Truncate(rec.Body.String(), 500), err)
	}
	return rec
}

// client returns the generated client (shared/apiclient) of the API,
// sending token as the bearer token (none when empty). Its requests are
// served through do, so every answer is checked against the OpenAPI
// document and for planted secrets like the hand-made requests'.
func (a *testAPI) client(token string) *apiclient.ClientWithResponses {
	a.tb.Helper()
	opts := []apiclient.ClientOption{apiclient.WithHTTPClient(handlerDoer{a})}
	if token != "" {
		opts = append(opts, apiclient.WithRequestEditorFn(apiclient.Bearer(token)))
	}
	c, err := apiclient.NewClientWithResponses("http://api.test", opts...)
	if err != nil {
		a.tb.Fatal(err)
	}
	return c
}

// handlerDoer sends the generated client's requests to the handler via do.
type handlerDoer struct{ a *testAPI }

func (d handlerDoer) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
	}
	header := req.Header.Clone()
	token := strings.TrimPrefix(header.Get("Authorization"), "Bearer ")
	header.Del("Authorization")
	return d.a.do(req.Method, req.URL.RequestURI(), token, body, header).Result(), nil
}

// openAPI is the embedded document, loaded once, with a router over it.
var openAPI = sync.OnceValues(func() (*openapi3.T, routers.Router) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		panic(fmt.Sprintf("load openapi.json: %v", err))
	}
	if err := doc.Validate(loader.Context); err != nil {
		panic(fmt.Sprintf("openapi.json is not valid: %v", err))
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		panic(fmt.Sprintf("openapi router: %v", err))
	}
	return doc, router
})

// validateResponse checks a response against the OpenAPI operation of its
// request: documented status, headers and body schema. A request that
// matches no operation must have been answered with an error body (404 of
// an unknown route).
func validateResponse(req *http.Request, rec *httptest.ResponseRecorder) error {
	_, router := openAPI()
	u := *req.URL
	u.Scheme, u.Host = "http", "api.test"
	r := req.Clone(context.Background())
	r.URL = &u
	r.Body = http.NoBody
	route, params, err := router.FindRoute(r)
	if err != nil {
		var body struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if rec.Code >= 400 && rec.Code < 500 && json.Unmarshal(rec.Body.Bytes(), &body) == nil && body.Code != "" && body.Message != "" {
			return nil
		}
		return fmt.Errorf("no operation for %s %s (%v), and the answer is not an error body", req.Method, req.URL.Path, err)
	}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  rec.Code,
		Header:  rec.Header(),
		Body:    io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
}

// mustProvision creates a tenant and returns its signing secret.
func (a *testAPI) mustProvision(tenant string) string {
	a.tb.Helper()
	rec := a.do("POST", "/v1/platform/tenants", a.operatorToken(), []byte(`{"id":"`+tenant+`"}`), nil)
	if rec.Code != http.StatusCreated {
		a.tb.Fatalf("provision %s: got %d %s, want 201", tenant, rec.Code, rec.Body)
	}
	var resp struct {
		SigningSecret secrets.SigningSecret `json:"signingSecret"`
	}
	mustDecode(a.tb, rec.Body, &resp)
	return resp.SigningSecret.Value
}

// signed serves a platform request signed with secrets at a.Now.
func (a *testAPI) signed(method, path, tenant string, body []byte, secrets ...string) *httptest.ResponseRecorder {
	a.tb.Helper()
	h := http.Header{}
	h.Set(signature.TenantHeader, tenant)
	h.Set(signature.Header, signature.Sign(body, a.Now, secrets...))
	return a.do(method, path, "", body, h)
}

func mustDecode(tb testing.TB, r io.Reader, v any) {
	tb.Helper()
	if err := json.NewDecoder(r).Decode(v); err != nil {
		tb.Fatalf("decode: %v", err)
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// newRecorder is a recorded response with a JSON body.
func newRecorder(status int, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/json")
	rec.WriteHeader(status)
	rec.WriteString(body)
	return rec
}
