// Package httpapi is psabridge's REST API as one http.Handler: served by
// net/http locally and wrapped for API Gateway (payload v2) in Lambda.
//
// Three kinds of caller, three kinds of authentication:
//   - tenant admins (portal, scripts): a JWT whose claims give the tenant and
//     roles, checked by an Authenticator; the tenant always comes from it;
//   - the vendor's platform (usage, org registration): requests signed with
//     the tenant's signing secret (package signature);
//   - the vendor's operators (tenant provisioning): IAM in AWS, an operator
//     token locally.
package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/deadline"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/signature"
	"github.com/psabridge/psabridge/shared/strictjson"
)

// MaxBodyBytes bounds every request body; larger bodies get 413.
const MaxBodyBytes = 1 << 20

// Store is the API's storage (implemented by *dynamo.Store): the small
// roles below and those of the services it calls (package app), each
// documented where it is declared. Runs and alerts are separate
// (Config.RunLog, Config.Alerts).
type Store interface {
	app.TenantStore
	app.UsageStore
	app.SettingsStore
	app.IntegrationStore
	app.MappingStore
	app.OrgsStore
	app.RuleStore
	app.CatalogStore
}

// Secrets is the API's secret store (implemented by *secrets.Store): the
// platform signing secrets (app.SigningSecretStore, also what verifies
// platform requests) and the tenants' PSA credentials, read by the PSA
// connector (integration.Credentials; fresh, past the cache, where a
// masked secret is kept) and written on connect and clear
// (app.CredentialStore).
type Secrets interface {
	app.SigningSecretStore
	integration.Credentials
	app.CredentialStore
}

// RunStarter starts a billing sync run of a tenant now (app.RunStarter;
// the billing sync's fan-out provides it).
type RunStarter = app.RunStarter

// Config wires the API's dependencies.
type Config struct {
	Store   Store
	Secrets Secrets
	// RunLog reads sync runs and their entries (GET /v1/sync-runs…).
	RunLog RunLog
	// Auth authenticates tenant admins (JWTAuthenticator locally,
	// ClaimsAuthenticator in Lambda). It never grants operator rights.
	Auth Authenticator
	// Operators authenticates the vendor's operators for the tenant
	// provisioning routes: IAMAuthenticator in Lambda, an
	// OperatorTokenAuthenticator locally. Nil: no one is an operator.
	Operators Authenticator
	// BillingRole is the role an admin needs for integration routes.
	BillingRole string
	Logger      *slog.Logger
	Now         func() time.Time

	// Dial builds a tenant's PSA client; required for every route that
	// reaches a PSA. The composition root (shared/compose) gives the
	// vendors' clients behind the tenant's request budget; the API itself
	// knows no PSA vendor. The tenant is passed so a dialer can attach the
	// tenant's PSA request budget.
	Dial integration.Dialer
	// Endpoints are where new integrations find their PSA (zero: the
	// vendors' hosts; `make run`: the sandboxes).
	Endpoints psa.Endpoints
	// AllowCustomEndpoints lets PUT /v1/integration carry an "endpoints"
	// object (tests and `make run`; off in AWS unless set on purpose, since
	// it lets an admin point psabridge at any host).
	AllowCustomEndpoints bool
	// PickerTTL is how long PSA picker answers are cached per tenant
	// (default 60 s; negative disables the cache).
	PickerTTL time.Duration
	// Runs starts sync runs for POST /v1/sync-runs (see RunStarter).
	Runs RunStarter
	// Redact, when set, is told every credential value the API handles, so
	// the logging handler masks it wherever it might appear.
	Redact func(values ...string)

	// Alerts stores webhook alerts and lists them (GET /v1/alerts).
	Alerts AlertStore
	// TicketQueue is the FIFO ticket queue the webhook sends alerts to.
	TicketQueue TicketQueue
	// Metrics receives EMF metrics (webhook rejects, and the Degraded count
	// of errors a request carries on after: metrics.Degrade); nil emits none.
	Metrics *metrics.Emitter

	// Timeout bounds a request whose context carries no deadline (net/http
	// locally, tests); in Lambda the context carries the function's own.
	// Either way the work ends deadline.Margin early, so even a request
	// whose dependency hangs is answered (503) before the function's
	// timeout. Default DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout is Config.Timeout's default: API Gateway's HTTP API
// integrations time out at 30 s.
const DefaultTimeout = 29 * time.Second

// DefaultRetryAfter is the Retry-After of a transient failure whose cause
// named no wait (an AWS dependency down, a timeout).
const DefaultRetryAfter = 5 * time.Second

// Handler serves the REST API.
type Handler struct {
	cfg     Config
	mux     *http.ServeMux
	log     *slog.Logger
	now     func() time.Time
	conn    *integration.Connector
	pickers *app.Pickers
	routes  []string
	// signing verifies platform signatures and rations signing-secret reads.
	signing *signature.Verifier

	// The services the routes call (package app), built over cfg.
	intake   *app.AlertIntake
	runNow   *app.RunNow
	catalogs *app.Catalogs
	orgs     *app.Orgs
	mappings *app.Mappings
	// suggestions proposes mappings from the pickers' answers.
	suggestions *app.Suggestions
	usage       *app.Usage
	tenants     *app.Tenants
	rules       *app.Rules
	settings    *app.Settings
	recon       *app.Reconciliation
	// integrations connects, rotates and clears PSA integrations.
	integrations *app.Integrations
}

// handle registers a route. Every route goes through here, so Routes can
// list them (the tests check each has an OpenAPI operation and a tenant
// isolation case).
func (h *Handler) handle(pattern string, fn http.HandlerFunc) {
	h.routes = append(h.routes, pattern)
	h.mux.HandleFunc(pattern, fn)
}

// Routes lists the registered route patterns ("GET /v1/orgs").
func (h *Handler) Routes() []string { return slices.Clone(h.routes) }

// New returns the REST API handler: every route of the route table.
func New(cfg Config) *Handler {
	h := newHandler(cfg)
	h.routeTable()
	h.mux.HandleFunc("/", h.noRoute)
	return h
}

// NewWebhook returns the handler of the alert webhook alone (POST
// /v1/webhooks/alerts): cfg needs only Secrets (platform signing secrets),
// Alerts and TicketQueue. Every other path is 404.
func NewWebhook(cfg Config) *Handler {
	h := newHandler(cfg)
	h.webhookRoutes()
	h.mux.HandleFunc("/", h.noRoute)
	return h
}

func newHandler(cfg Config) *Handler {
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, now: cfg.Now}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = clock.Now
	}
	if h.cfg.BillingRole == "" {
		h.cfg.BillingRole = "billing-admin"
	}
	if h.cfg.Dial == nil {
		// Misconfigured: no PSA can be reached, and saying so is better
		// than a nil call.
		h.cfg.Dial = func(string, psa.Credentials, psa.Endpoints) (psa.Client, error) {
			return nil, apperr.New(apperr.Internal, "the API was built without a PSA dialer")
		}
	}
	if h.cfg.Redact == nil {
		h.cfg.Redact = func(...string) {}
	}
	h.conn = &integration.Connector{Store: cfg.Store, Credentials: cfg.Secrets, Dial: h.cfg.Dial, Log: h.log, Metrics: h.cfg.Metrics}
	h.pickers = app.NewPickers(h.conn, h.cfg.PickerTTL, h.now)
	h.signing = &signature.Verifier{Read: h.readSigningSecrets, Now: h.now}
	h.intake = &app.AlertIntake{Queue: h.cfg.TicketQueue, Now: h.now, Log: h.log, Metrics: h.cfg.Metrics}
	if h.cfg.Alerts != nil {
		h.intake.Alerts = h.cfg.Alerts
	}
	h.runNow = &app.RunNow{Integrations: h.cfg.Store, Runs: h.cfg.Runs}
	h.integrations = &app.Integrations{Store: h.cfg.Store, Credentials: h.cfg.Secrets, Dial: h.cfg.Dial, Now: h.now, Log: h.log,
		Forget: func(tenant string) {
			h.conn.Forget(tenant)
			h.pickers.Forget(tenant)
		}}
	h.orgs = &app.Orgs{Store: h.cfg.Store, Now: h.now}
	h.suggestions = &app.Suggestions{Orgs: h.cfg.Store, Catalogs: h.cfg.Store, Pickers: h.pickers, Now: h.now}
	h.rules = &app.Rules{Store: h.cfg.Store, Pickers: h.pickers}
	h.settings = &app.Settings{Store: h.cfg.Store}
	h.usage = &app.Usage{Store: h.cfg.Store, Now: h.now, Log: h.log}
	h.tenants = &app.Tenants{Store: h.cfg.Store, Secrets: h.cfg.Secrets, Forget: h.signing.Forget, Now: h.now, Log: h.log}
	h.mappings = &app.Mappings{Store: h.cfg.Store, Catalogs: h.cfg.Store, PSA: h.conn, Now: h.now}
	h.recon = &app.Reconciliation{Store: h.cfg.Store, PSA: h.conn, Now: h.now}
	h.catalogs = &app.Catalogs{Store: h.cfg.Store, Integrations: h.cfg.Store, PSA: h.conn, Now: h.now, Log: h.log, Metrics: h.cfg.Metrics}
	return h
}

// routeMethods are the methods the API's routes use, in the order Allow
// lists them.
var routeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// noRoute answers a request that no route takes: 405 with Allow when the
// path has routes for other methods, 404 otherwise.
func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range routeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		h.fail(w, r, apperr.New(apperr.NotFound, "no such route"))
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	h.fail(w, r, apperr.New(apperr.MethodNotAllowed, "%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
}

// ServeHTTP serves one request. Panics in handlers become 500 with a generic
// message (the panic is logged).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			h.log.ErrorContext(r.Context(), "panic", "panic", p, "path", r.URL.Path)
			h.fail(w, r, apperr.New(apperr.Internal, "internal error"))
		}
	}()
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	timeout := h.cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := deadline.Reserve(r.Context(), deadline.Margin, timeout)
	defer cancel()
	r = r.WithContext(ctx)
	if p := r.URL.Path; p == "" || path.Clean(p) != p {
		// ServeMux would redirect to the clean path, which is not part of
		// the documented API.
		h.fail(w, r, apperr.New(apperr.NotFound, "no such route"))
		return
	}
	if r.Method == http.MethodHead {
		// ServeMux would serve HEAD with every GET route; the API has no
		// HEAD, so it is a method like any other it does not allow.
		h.noRoute(w, r)
		return
	}
	if err := validURLText(r.URL); err != nil {
		h.fail(w, r, err)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// validURLText refuses a path or query parameter that is not valid UTF-8
// once unescaped, so no handler ever passes such text on (DynamoDB and SQS
// refuse it, which would read as an outage). Invalid.
func validURLText(u *url.URL) error {
	if !utf8.ValidString(u.Path) {
		return apperr.New(apperr.Invalid, "the request path is not valid UTF-8")
	}
	for k, vs := range u.Query() {
		if !utf8.ValidString(k) {
			return apperr.New(apperr.Invalid, "a query parameter name is not valid UTF-8")
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return apperr.New(apperr.Invalid, "query parameter %q is not valid UTF-8", k)
			}
		}
	}
	return nil
}

// errorBody is the JSON error shape of every non-2xx response (README,
// openapi.json's Error): a stable code, a user-safe message, and details,
// always an array: one {field, message} per invalid field of the request,
// or {message} lines in the PSA's own words for rejected.
type errorBody struct {
	Code    apperr.Code   `json:"code"`
	Message string        `json:"message"`
	Details []errorDetail `json:"details"`
}

// errorDetail is one entry of errorBody.Details; Field is empty for a
// line that concerns no single field.
type errorDetail struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// detailsOf lists err's field problems, then its verbatim detail lines.
func detailsOf(err error) []errorDetail {
	out := []errorDetail{}
	for _, f := range apperr.FieldsOf(err) {
		out = append(out, errorDetail{Field: f.Field, Message: f.Message})
	}
	for _, d := range apperr.DetailsOf(err) {
		out = append(out, errorDetail{Message: d})
	}
	return out
}

// fail writes err as {"code","message","details"} with the status of its
// code. Internal errors are logged and never shown. Transient errors always
// carry Retry-After: the wait the cause asked for, else DefaultRetryAfter.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := apperr.CodeOf(err)
	if code == apperr.Internal {
		h.log.ErrorContext(r.Context(), "request failed", "err", err, "method", r.Method, "path", r.URL.Path)
	} else {
		h.log.InfoContext(r.Context(), "request refused", "code", code, "err", err, "method", r.Method, "path", r.URL.Path)
	}
	d := apperr.RetryAfterOf(err)
	if d <= 0 && code == apperr.Transient {
		d = DefaultRetryAfter
	}
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
	writeJSON(w, HTTPStatus(code), errorBody{Code: code, Message: apperr.MessageOf(err), Details: detailsOf(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads the whole body (bounded by MaxBodyBytes). TooLarge when over.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, apperr.New(apperr.TooLarge, "request body is larger than %d bytes", MaxBodyBytes)
	}
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "could not read the request body")
	}
	return b, nil
}

// readJSON reads the body and decodes it with strictjson.Decode (Invalid for
// unknown fields, wrong types, trailing data, duplicate keys or invalid
// UTF-8).
func readJSON(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	return strictjson.Decode(b, v)
}
