// Package halopsa is the psa.Client for HaloPSA (Halo API v2).
//
// The vendor rules it honours are in docs/HALOPSA.md: an OAuth 2
// client-credentials token from the instance's authorisation server
// (POST {auth}token, scope=all, ?tenant= for hosted instances), cached and
// taken again before it expires and once after a 401; every call carries it
// as a Bearer token; lists are paged with pageinate/page_size/page_no and
// answer {record_count, <key>: [...]}; writes POST an array of objects to
// the collection (no id: create; id: update of the fields sent); 429
// carries Retry-After. Halo's names are its internal ones: a client is an
// Area, a ticket Faults, a note an Actions row, a recurring invoice an
// InvoiceHeader with InvoiceDetail lines.
package halopsa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
)

// PageSize is the page_size the client asks for. Halo states no maximum;
// 100 is what public clients use (docs/HALOPSA.md 2.1).
const PageSize = 100

// maxParallel bounds the concurrent requests of one call that fans out
// (reads by id). Halo publishes no limit; it throttles with 429.
const maxParallel = 4

// Config configures a Client.
type Config struct {
	// Credentials: ClientID and ClientSecret are required; Host unless both
	// endpoints are set; Tenant when the instance needs it.
	Credentials psa.Credentials
	// Endpoints override the authorisation and resource servers (default
	// https://{host}/auth/ and https://{host}/api/).
	Endpoints psa.Endpoints
	// Options are the HTTP client, clock and retry loop (unset: their
	// defaults, see psahttp.Options).
	psahttp.Options
}

// Client talks to one HaloPSA instance. Safe for concurrent use.
type Client struct {
	cfg     Config // with the default Options filled in
	authURL string // with a trailing slash
	apiURL  string // with a trailing slash

	// mu guards the token; it is held while a new one is fetched, so
	// concurrent calls wait for one token instead of each asking.
	mu      sync.Mutex
	token   string
	renewAt time.Time
}

var (
	_ psa.Client             = (*Client)(nil)
	_ psa.ContractLineReader = (*Client)(nil)
)

// hostLabel is one DNS label.
var hostLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidHost reports whether host is a bare DNS host name: at least two
// labels, no scheme, port, path, user info or IP literal. Halo runs hosted
// (*.halopsa.com) and on-premise under any domain, so the name itself is
// not restricted further; the SSRF-guarded HTTP client refuses names that
// resolve to loopback, private or link-local addresses.
func ValidHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if len(host) > 253 || net.ParseIP(strings.Trim(host, "[]")) != nil {
		return false
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !hostLabel.MatchString(l) {
			return false
		}
	}
	// The top-level domain is never all digits (that would be an IPv4
	// address in another spelling, such as 127.1).
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}

// cloudDomains are the domains Halo hosts its cloud instances under
// (HaloPSA, HaloITSM, HaloServiceDesk).
var cloudDomains = []string{".halopsa.com", ".haloitsm.com", ".haloservicedesk.com"}

// CloudHost reports whether host is a valid host name under one of Halo's
// cloud domains (acme.halopsa.com). These are the only hosts psabridge
// calls for a host unless a deployment configures custom endpoints on
// purpose (on-premise Halo, sandboxes), so a stored host cannot point
// psabridge at an arbitrary server.
func CloudHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if !ValidHost(host) {
		return false
	}
	for _, d := range cloudDomains {
		if strings.HasSuffix(host, d) && len(host) > len(d) {
			return true
		}
	}
	return false
}

// New returns a Client. Invalid when a required credential is missing, the
// host is not a host name (a Halo cloud host unless both endpoints are
// set), or an endpoint is not an absolute URL. It makes no request.
func New(cfg Config) (*Client, error) {
	cr := cfg.Credentials
	if cr.Provider != "" && cr.Provider != psa.HaloPSA {
		return nil, apperr.New(apperr.Invalid, "credentials are for %s, not halopsa", cr.Provider)
	}
	ep := cfg.Endpoints
	var missing []string
	if strings.TrimSpace(cr.ClientID) == "" {
		missing = append(missing, "clientId")
	}
	if strings.TrimSpace(cr.ClientSecret) == "" {
		missing = append(missing, "clientSecret")
	}
	if cr.Host == "" && (ep.HaloPSAAuthURL == "" || ep.HaloPSAAPIURL == "") {
		missing = append(missing, "host")
	}
	if len(missing) > 0 {
		return nil, apperr.New(apperr.Invalid, "HaloPSA credentials are missing %s", strings.Join(missing, ", "))
	}
	if cr.Host != "" && !ValidHost(cr.Host) {
		return nil, apperr.New(apperr.Invalid, "the HaloPSA host must be a host name such as acme.halopsa.com (no scheme, port or path)")
	}
	if (ep.HaloPSAAuthURL == "" || ep.HaloPSAAPIURL == "") && !CloudHost(cr.Host) {
		return nil, apperr.New(apperr.Invalid, "the HaloPSA host must be a Halo cloud host (*.halopsa.com, *.haloitsm.com or *.haloservicedesk.com); another host needs both custom endpoints configured on purpose")
	}
	if strings.ContainsAny(cr.Tenant, "/?#&= ") {
		return nil, apperr.New(apperr.Invalid, "the HaloPSA tenant must be a plain name")
	}
	cfg.Options = cfg.Options.WithDefaults()
	c := &Client{cfg: cfg, authURL: ep.HaloPSAAuthURL, apiURL: ep.HaloPSAAPIURL}
	if c.authURL == "" {
		c.authURL = "https://" + cr.Host + "/auth/"
	}
	if c.apiURL == "" {
		c.apiURL = "https://" + cr.Host + "/api/"
	}
	for _, u := range []*string{&c.authURL, &c.apiURL} {
		p, err := url.Parse(*u)
		if err != nil || p.Host == "" || (p.Scheme != "https" && p.Scheme != "http") || p.User != nil {
			return nil, apperr.New(apperr.Invalid, "HaloPSA endpoint %q is not an absolute http(s) URL", *u)
		}
		*u = strings.TrimSuffix(*u, "/") + "/"
	}
	return c, nil
}

// Provider returns psa.HaloPSA.
func (c *Client) Provider() psa.Provider { return psa.HaloPSA }

// tokenAnswer is the authorisation server's answer.
type tokenAnswer struct {
	AccessToken string  `json:"access_token"`
	TokenType   string  `json:"token_type"`
	ExpiresIn   float64 `json:"expires_in"`
}

// bearer returns a token that is not stale: the cached one unless it is
// about to expire or is the one an API call was just refused with.
func (c *Client) bearer(ctx context.Context, stale string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.token != stale && c.cfg.Now().Before(c.renewAt) {
		return c.token, nil
	}
	c.token = ""
	var ans tokenAnswer
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.cfg.Credentials.ClientID},
		"client_secret": {c.cfg.Credentials.ClientSecret},
		"scope":         {"all"},
	}
	u := c.authURL + "token"
	if t := c.cfg.Credentials.Tenant; t != "" {
		u += "?tenant=" + url.QueryEscape(t)
	}
	err := c.cfg.Retry.Do(ctx, true, func(ctx context.Context) psahttp.Attempt {
		return c.exchange(ctx, http.MethodPost, u, "application/x-www-form-urlencoded", []byte(form.Encode()), "", &ans)
	})
	if err != nil {
		if apperr.Is(err, apperr.Unauthorized) || (apperr.Is(err, apperr.Rejected) && httpStatus(err) == http.StatusBadRequest) {
			// RFC 6749 answers refused client credentials with 400 or 401.
			return "", relabel(err, apperr.Unauthorized, "HaloPSA refused the API application's client id and secret (or tenant)")
		}
		return "", err
	}
	if ans.AccessToken == "" || (ans.TokenType != "" && !strings.EqualFold(ans.TokenType, "Bearer")) {
		return "", apperr.New(apperr.Rejected, "the authorisation server did not answer like HaloPSA's (no Bearer access_token)")
	}
	life := time.Duration(ans.ExpiresIn * float64(time.Second))
	if life <= 0 {
		life = 5 * time.Minute
	}
	c.token, c.renewAt = ans.AccessToken, c.cfg.Now().Add(life-min(time.Minute, life/10))
	return c.token, nil
}

// statusErr keeps the HTTP status of a vendor answer inside an apperr.
type statusErr struct {
	status int
	text   string
}

func (e *statusErr) Error() string { return e.text }

// httpStatus returns the HTTP status of the vendor answer behind err, 0
// when there was none.
func httpStatus(err error) int {
	var se *statusErr
	if errors.As(err, &se) {
		return se.status
	}
	return 0
}

// relabel returns err with another code and message, its details kept.
func relabel(err error, code apperr.Code, msg string) error {
	e := apperr.New(code, "%s", msg)
	e.Details = apperr.DetailsOf(err)
	e.Err = err
	return e
}

// exchange makes one HTTP request. bearer, when set, is sent as the token;
// out, when non-nil, receives the decoded 2xx answer.
func (c *Client) exchange(ctx context.Context, method, u, contentType string, payload []byte, bearer string, out any) psahttp.Attempt {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return psahttp.Attempt{Err: apperr.Wrap(err, apperr.Invalid, "bad HaloPSA URL")}
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return psahttp.TransportError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return psahttp.Attempt{Err: apperr.Wrap(err, apperr.Transient, "reading the HaloPSA answer")}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.classify(resp, data)
	}
	if out != nil {
		if len(bytes.TrimSpace(data)) == 0 {
			return psahttp.Attempt{Err: apperr.New(apperr.Rejected, "HaloPSA answered %s %s with no body", method, req.URL.Path)}
		}
		if err := json.Unmarshal(data, out); err != nil {
			// Not our bug and not worth a retry: the host does not answer
			// like Halo. The body is not echoed.
			return psahttp.Attempt{Err: apperr.Wrap(err, apperr.Rejected, "the answer is not HaloPSA's JSON")}
		}
	}
	return psahttp.Attempt{}
}

// errorBody holds the shapes Halo's errors come in: a serialised .NET
// exception, ASP.NET problem details, an OAuth error.
type errorBody struct {
	Message          string              `json:"Message"`
	MessageLower     string              `json:"message"`
	Title            string              `json:"title"`
	Errors           map[string][]string `json:"errors"`
	Error            string              `json:"error"`
	ErrorDescription string              `json:"error_description"`
}

// vendorDetails returns Halo's own words from an error body, verbatim;
// nothing for a body in no known shape (it may not be Halo's: never echo
// it).
func vendorDetails(body []byte) []string {
	body = bytes.TrimSpace(body)
	var s string
	if json.Unmarshal(body, &s) == nil {
		if s = strings.TrimSpace(s); s != "" {
			return []string{s}
		}
		return nil
	}
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil {
		return nil
	}
	var out []string
	for _, m := range []string{eb.Message, eb.MessageLower, eb.ErrorDescription} {
		if m != "" {
			out = append(out, m)
		}
	}
	if len(out) == 0 && eb.Error != "" {
		out = append(out, eb.Error)
	}
	if len(eb.Errors) > 0 {
		if eb.Title != "" {
			out = append(out, eb.Title)
		}
		keys := make([]string, 0, len(eb.Errors))
		for k := range eb.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, m := range eb.Errors[k] {
				out = append(out, k+": "+m)
			}
		}
	}
	return out
}

// classify turns a non-2xx answer into an Attempt.
func (c *Client) classify(resp *http.Response, body []byte) psahttp.Attempt {
	details := vendorDetails(body)
	mk := func(code apperr.Code, msg string) *apperr.Error {
		e := apperr.New(code, "%s", msg)
		e.Details = details
		e.Err = &statusErr{status: resp.StatusCode, text: fmt.Sprintf("halopsa %s %s: HTTP %d: %s",
			resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, strings.Join(details, "; "))}
		return e
	}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized:
		return psahttp.Attempt{Err: mk(apperr.Unauthorized, "HaloPSA refused the API application's credentials")}
	case s == http.StatusForbidden:
		return psahttp.Attempt{Err: mk(apperr.Forbidden, "the HaloPSA API application's agent lacks a permission")}
	case s == http.StatusNotFound:
		return psahttp.Attempt{Err: mk(apperr.NotFound, "HaloPSA has no such record")}
	case s == http.StatusTooManyRequests:
		e := mk(apperr.Transient, "HaloPSA is throttling requests")
		e.RetryAfter = psahttp.RetryAfter(resp.Header, c.cfg.Now())
		return psahttp.Attempt{Err: e, Unprocessed: true}
	case s >= 500:
		e := mk(apperr.Transient, "HaloPSA failed; try again later")
		e.RetryAfter = psahttp.RetryAfter(resp.Header, c.cfg.Now())
		return psahttp.Attempt{Err: e}
	default:
		return psahttp.Attempt{Err: mk(apperr.Rejected, "HaloPSA rejected the request")}
	}
}

// call sends one API request (path below the API base, e.g. "Client/12")
// with retries, taking a token first and a new one once after a 401 (the
// request was not acted on, so even a create may go again). body is
// JSON-encoded when non-nil; out, when non-nil, receives the answer.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, body any, idempotent bool, out any) error {
	var payload []byte
	ctype := ""
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return apperr.Wrap(err, apperr.Internal, "encoding a HaloPSA request")
		}
		ctype = "application/json"
	}
	u := c.apiURL + path
	if len(q) > 0 {
		u += "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	}
	stale := ""
	for attempt := 0; ; attempt++ {
		tok, err := c.bearer(ctx, stale)
		if err != nil {
			return err
		}
		refused := false
		err = c.cfg.Retry.Do(ctx, idempotent, func(ctx context.Context) psahttp.Attempt {
			a := c.exchange(ctx, method, u, ctype, payload, tok, out)
			refused = httpStatus(a.Err) == http.StatusUnauthorized
			return a
		})
		if refused && attempt == 0 {
			stale = tok
			continue
		}
		return err
	}
}

// listAnswer is a list in any shape Halo answers: a bare array, or an
// object with record_count and the rows under the endpoint's key.
type listAnswer struct {
	// key is the endpoint's key for its rows, set before decoding.
	key         string
	rows        json.RawMessage
	recordCount int
	counted     bool
}

func (l *listAnswer) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		l.rows = b
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	if rc, ok := obj["record_count"]; ok {
		if err := json.Unmarshal(rc, &l.recordCount); err == nil {
			l.counted = true
		}
	}
	// The endpoint's key; else the one array the object holds.
	var arrays []json.RawMessage
	for k, v := range obj {
		v = bytes.TrimSpace(v)
		if len(v) == 0 || v[0] != '[' {
			continue
		}
		if strings.EqualFold(k, l.key) {
			l.rows = v
			return nil
		}
		arrays = append(arrays, v)
	}
	if len(arrays) == 1 {
		l.rows = arrays[0]
		return nil
	}
	if len(arrays) == 0 && l.counted && l.recordCount == 0 {
		l.rows = json.RawMessage("[]")
		return nil
	}
	return fmt.Errorf("no list in the answer")
}

// list reads one answer of path as rows of T.
func list[T any](ctx context.Context, c *Client, path, key string, q url.Values) ([]T, listAnswer, error) {
	ans := listAnswer{key: key}
	if err := c.call(ctx, http.MethodGet, path, q, nil, true, &ans); err != nil {
		return nil, ans, err
	}
	var rows []T
	if err := json.Unmarshal(ans.rows, &rows); err != nil {
		return nil, ans, apperr.Wrap(err, apperr.Rejected, "the HaloPSA %s list is not in Halo's shape", path)
	}
	return rows, ans, nil
}

// pages reads the pages of a paged list in order, handing each to each,
// until each says stop, every record_count row was read, or a page comes
// back short.
func pages[T any](ctx context.Context, c *Client, path, key string, q url.Values, each func(rows []T, total int, counted bool) (stop bool)) error {
	pq := url.Values{}
	for k, v := range q {
		pq[k] = v
	}
	pq.Set("pageinate", "true")
	pq.Set("page_size", strconv.Itoa(PageSize))
	read := 0
	var prev json.RawMessage
	for page := 1; ; page++ {
		if page > 100000 {
			return apperr.New(apperr.Internal, "HaloPSA paging of %s does not end", path)
		}
		pq.Set("page_no", strconv.Itoa(page))
		rows, ans, err := list[T](ctx, c, path, key, pq)
		if err != nil {
			return err
		}
		if len(rows) > 0 && bytes.Equal(ans.rows, prev) {
			// A server that ignores page_no would be paged for ever.
			return apperr.New(apperr.Rejected, "HaloPSA answered page %d of %s with the page before it: it does not page like Halo", page, path)
		}
		prev = ans.rows
		read += len(rows)
		if each(rows, ans.recordCount, ans.counted) || len(rows) < PageSize || (ans.counted && read >= ans.recordCount) {
			return nil
		}
	}
}

// all reads every page of a paged list.
func all[T any](ctx context.Context, c *Client, path, key string, q url.Values) ([]T, error) {
	var out []T
	err := pages(ctx, c, path, key, q, func(rows []T, _ int, _ bool) bool {
		out = append(out, rows...)
		return false
	})
	return out, err
}

// get reads one record; NotFound when Halo has no such record (a 404, or
// an answer without an id, which some Halo versions give instead).
func get[T any](ctx context.Context, c *Client, path string, q url.Values, idOf func(T) int64) (T, error) {
	var r T
	if err := c.call(ctx, http.MethodGet, path, q, nil, true, &r); err != nil {
		var zero T
		return zero, err
	}
	if idOf(r) == 0 {
		var zero T
		return zero, apperr.New(apperr.NotFound, "HaloPSA has no %s", path)
	}
	return r, nil
}

// post writes one object (Halo takes an array) and decodes the saved
// object, which Halo answers alone or in an array, into out.
func post(ctx context.Context, c *Client, path string, obj any, idempotent bool, out any) error {
	if out == nil {
		return c.call(ctx, http.MethodPost, path, nil, []any{obj}, idempotent, nil)
	}
	var raw json.RawMessage
	if err := c.call(ctx, http.MethodPost, path, nil, []any{obj}, idempotent, &raw); err != nil {
		return err
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(raw, &arr); err != nil || len(arr) == 0 {
			return apperr.New(apperr.Rejected, "HaloPSA answered POST %s without the saved record", path)
		}
		raw = arr[len(arr)-1]
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return apperr.Wrap(err, apperr.Rejected, "the answer to POST %s is not HaloPSA's JSON", path)
	}
	return nil
}
