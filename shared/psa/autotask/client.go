// Package autotask is the Autotask PSA REST v1.0 client and its psa.Client
// provider.
//
// The rules it honours are in PSA-API-NOTES.md §1: the API base comes from
// zoneInformation and is looked up again after a 401 or a connection
// failure; every call carries ApiIntegrationCode, UserName and Secret;
// queries ask for at most 500 records and follow pageDetails.nextPageUrl;
// picklist ids are read from entityInformation/fields, never hard-coded;
// validation failures (HTTP 500 {"errors":[…]}) are rejections carrying the
// vendor's words; 429 and the thread-threshold error are transient; and no
// more than 3 requests are in flight per endpoint.
package autotask

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
)

// DefaultZoneURL is where Autotask answers zoneInformation.
const DefaultZoneURL = "https://webservices.autotask.net/atservicesrest/"

// MaxRecords is Autotask's page size limit.
const MaxRecords = 500

// threadLimit is Autotask's concurrent request limit per tracking
// identifier and object endpoint (since 2023.1).
const threadLimit = 3

// maxPages bounds one query's paging, so a server that keeps answering
// nextPageUrl cannot loop a caller forever (500 × 2,000 = 1,000,000 records).
const maxPages = 2000

// Config configures a Client.
type Config struct {
	// Credentials: Username, Secret and IntegrationCode are required.
	Credentials psa.Credentials
	// Endpoints.AutotaskZoneURL overrides DefaultZoneURL.
	Endpoints psa.Endpoints
	// Options are the HTTP client, clock and retry loop (unset: their
	// defaults, see psahttp.Options).
	psahttp.Options
}

// Client talks to one Autotask database. It is safe for concurrent use.
type Client struct {
	creds   psa.Credentials
	zoneURL string
	opts    psahttp.Options // cfg.Options with defaults

	zoneMu sync.Mutex // serialises zone discovery
	mu     sync.Mutex
	base   string // zone API base, e.g. https://webservices5.autotask.net/atservicesrest/
	sems   map[string]chan struct{}
	fields map[string]map[string]fieldInfo // entity → lower-case field name → field
}

var _ psa.Client = (*Client)(nil)

// New returns a Client. Invalid when a credential is missing or the zone URL
// is not an absolute http(s) URL.
func New(cfg Config) (*Client, error) {
	cr := cfg.Credentials
	if cr.Username == "" || cr.Secret == "" || cr.IntegrationCode == "" {
		return nil, apperr.New(apperr.Invalid, "Autotask needs the API username, secret and tracking identifier")
	}
	zone := cfg.Endpoints.AutotaskZoneURL
	if zone == "" {
		zone = DefaultZoneURL
	}
	if !strings.HasSuffix(zone, "/") {
		zone += "/"
	}
	if u, err := url.Parse(zone); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, apperr.New(apperr.Invalid, "the Autotask zone lookup URL must be an absolute https URL")
	}
	c := &Client{creds: cr, zoneURL: zone, opts: cfg.Options.WithDefaults(),
		sems: map[string]chan struct{}{}, fields: map[string]map[string]fieldInfo{}}
	return c, nil
}

// Provider returns psa.Autotask.
func (c *Client) Provider() psa.Provider { return psa.Autotask }

// zoneInfo is the zoneInformation answer.
type zoneInfo struct {
	ZoneName string `json:"zoneName"`
	URL      string `json:"url"`
	WebURL   string `json:"webUrl"`
	CI       int    `json:"ci"`
}

// zone returns the cached API base, discovering it when unknown; fresh is
// true when this call discovered it.
func (c *Client) zone(ctx context.Context) (base string, fresh bool, err error) {
	c.mu.Lock()
	base = c.base
	c.mu.Unlock()
	if base != "" {
		return base, false, nil
	}
	c.zoneMu.Lock()
	defer c.zoneMu.Unlock()
	c.mu.Lock()
	base = c.base
	c.mu.Unlock()
	if base != "" { // another caller discovered it meanwhile
		return base, true, nil
	}
	base, err = c.discover(ctx)
	if err != nil {
		return "", false, err
	}
	c.mu.Lock()
	c.base = base
	c.mu.Unlock()
	return base, true, nil
}

// forgetZone drops the cached base if it is still base, so the next call
// looks the zone up again (databases move between zones).
func (c *Client) forgetZone(base string) {
	c.mu.Lock()
	if c.base == base {
		c.base = ""
	}
	c.mu.Unlock()
}

// discover calls zoneInformation. The call needs no credentials, so none are
// sent; it is exempt from thread limits, so it takes no semaphore.
func (c *Client) discover(ctx context.Context) (string, error) {
	u := c.zoneURL + "v1.0/zoneInformation?user=" + url.QueryEscape(c.creds.Username)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", apperr.Wrap(err, apperr.Invalid, "the Autotask zone lookup URL is not valid")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return "", psahttp.TransportError(err).Err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return "", apperr.Wrap(err, apperr.Transient, "the Autotask zone lookup failed")
	}
	if resp.StatusCode != http.StatusOK {
		a := c.classify(resp.StatusCode, resp.Header, body, nil)
		if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests || apperr.Is(a.Err, apperr.Rejected) {
			// Autotask does not know this API user.
			return "", &apperr.Error{Code: apperr.Unauthorized, Message: "Autotask does not know this API user",
				Details: apperr.DetailsOf(a.Err), Err: a.Err}
		}
		return "", a.Err
	}
	var zi zoneInfo
	if err := json.Unmarshal(body, &zi); err != nil {
		return "", apperr.Wrap(err, apperr.Transient, "the Autotask zone lookup answered something unexpected")
	}
	pu, err := url.Parse(zi.URL)
	if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
		return "", apperr.New(apperr.Transient, "the Autotask zone lookup answered no usable URL")
	}
	if c.zoneURL == DefaultZoneURL && (pu.Scheme != "https" || pu.Port() != "" || !zoneHost.MatchString(strings.ToLower(pu.Hostname()))) {
		// Asked Autotask itself: the zone must be one of Autotask's hosts,
		// whatever the answer says (custom endpoints are set on purpose).
		return "", apperr.New(apperr.Rejected, "the Autotask zone lookup named a host that is not Autotask's")
	}
	if !strings.HasSuffix(zi.URL, "/") {
		zi.URL += "/"
	}
	return zi.URL, nil
}

// zoneHost is an Autotask zone's API host (webservices5.autotask.net…).
var zoneHost = regexp.MustCompile(`^webservices[0-9]*\.autotask\.net$`)

// sem returns the semaphore of an endpoint ("tickets", "companies"…).
func (c *Client) sem(endpoint string) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sems[endpoint]
	if s == nil {
		s = make(chan struct{}, threadLimit)
		c.sems[endpoint] = s
	}
	return s
}

// endpointOf is the object endpoint of a path relative to the base
// ("V1.0/Tickets/12/Notes" → "tickets"): Autotask's thread limit applies per
// tracking identifier and object endpoint.
func endpointOf(ref string) string {
	p, _, _ := strings.Cut(ref, "?")
	segs := strings.Split(p, "/")
	if len(segs) > 1 {
		return strings.ToLower(segs[1])
	}
	return strings.ToLower(p)
}

// call sends one API request to ref (relative to the zone base, such as
// "V1.0/Companies/query"), retrying transient failures (non-idempotent ones
// only when Autotask certainly did not process them), and decodes a
// successful answer into out.
func (c *Client) call(ctx context.Context, method, ref string, body any, idempotent bool, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return apperr.Wrap(err, apperr.Internal, "could not encode the Autotask request")
		}
	}
	return c.opts.Retry.Do(ctx, idempotent, func(ctx context.Context) psahttp.Attempt {
		return c.attempt(ctx, method, ref, payload, out)
	})
}

// attempt is one try, plus one immediate retry after re-discovering the zone
// when the cached zone answered 401 (the database may have moved).
func (c *Client) attempt(ctx context.Context, method, ref string, payload []byte, out any) psahttp.Attempt {
	for rediscovered := false; ; rediscovered = true {
		base, fresh, err := c.zone(ctx)
		if err != nil {
			// Autotask's API was not contacted, so even a write may be retried.
			return psahttp.Attempt{Err: err, Unprocessed: apperr.IsTransient(err)}
		}
		status, header, body, err := c.send(ctx, method, base+ref, endpointOf(ref), payload)
		if err != nil {
			a := psahttp.TransportError(err)
			if a.Unprocessed {
				c.forgetZone(base) // connection failure: the zone may have moved
			}
			return a
		}
		if status == http.StatusUnauthorized && !fresh && !rediscovered {
			c.forgetZone(base)
			continue
		}
		return c.classify(status, header, body, out)
	}
}

// send performs one HTTP exchange holding the endpoint's semaphore.
func (c *Client) send(ctx context.Context, method, u, endpoint string, payload []byte) (int, http.Header, []byte, error) {
	s := c.sem(endpoint)
	select {
	case s <- struct{}{}:
	case <-ctx.Done():
		return 0, nil, nil, ctx.Err()
	}
	defer func() { <-s }()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("ApiIntegrationCode", c.creds.IntegrationCode)
	req.Header.Set("UserName", c.creds.Username)
	req.Header.Set("Secret", c.creds.Secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, body, nil
}

// errorBody is Autotask's error answer.
type errorBody struct {
	Errors  []json.RawMessage `json:"errors"`
	Message string            `json:"Message"`
}

// texts returns the error texts verbatim.
func (e errorBody) texts() []string {
	var out []string
	for _, raw := range e.Errors {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, s)
			continue
		}
		out = append(out, string(raw))
	}
	return out
}

func isThreadThreshold(texts []string) bool {
	for _, t := range texts {
		l := strings.ToLower(t)
		if strings.Contains(l, "thread threshold") || strings.Contains(l, "itgenatr005") {
			return true
		}
	}
	return false
}

// classify turns an HTTP answer into an attempt outcome and decodes a
// success into out.
func (c *Client) classify(status int, h http.Header, body []byte, out any) psahttp.Attempt {
	if status >= 200 && status < 300 {
		if out != nil {
			if err := json.Unmarshal(body, out); err != nil {
				// Not our bug and not worth a retry: the host does not
				// answer like Autotask. The body is not echoed.
				return psahttp.Attempt{Err: apperr.Wrap(err, apperr.Rejected, "the answer is not Autotask's JSON")}
			}
		}
		return psahttp.Attempt{}
	}
	var eb errorBody
	_ = json.Unmarshal(body, &eb)
	texts := eb.texts()
	cause := fmt.Errorf("autotask: HTTP %d: %s", status, psa.Truncate(string(body), 500))
	mk := func(code apperr.Code, msg string) *apperr.Error {
		return &apperr.Error{Code: code, Message: msg, Details: texts, Err: cause}
	}
	// The thread-threshold error's status is not documented; recognise it
	// by its text whatever the status.
	if status == http.StatusTooManyRequests || isThreadThreshold(texts) {
		e := mk(apperr.Transient, "Autotask is throttling requests")
		e.RetryAfter = psahttp.RetryAfter(h, c.opts.Now())
		if e.RetryAfter == 0 && isThreadThreshold(texts) {
			e.RetryAfter = time.Second
		}
		return psahttp.Attempt{Err: e, Unprocessed: true}
	}
	switch {
	case status == http.StatusUnauthorized:
		return psahttp.Attempt{Err: mk(apperr.Unauthorized, "Autotask refused the API credentials")}
	case status == http.StatusForbidden:
		return psahttp.Attempt{Err: mk(apperr.Forbidden, "the Autotask API user lacks a permission")}
	case status == http.StatusNotFound:
		return psahttp.Attempt{Err: mk(apperr.NotFound, "Autotask does not have it")}
	case status == http.StatusInternalServerError && len(texts) > 0:
		// Autotask answers validation and business-rule failures as 500
		// with {"errors":[…]}: retrying cannot help, the admin must see why.
		return psahttp.Attempt{Err: mk(apperr.Rejected, "Autotask rejected the request")}
	case status >= 500:
		return psahttp.Attempt{Err: mk(apperr.Transient, "Autotask failed; try again later")}
	}
	if len(texts) == 0 && eb.Message != "" {
		texts = []string{eb.Message}
	}
	return psahttp.Attempt{Err: mk(apperr.Rejected, "Autotask rejected the request")}
}

// filter is one Autotask query condition or group.
type filter struct {
	Op    string   `json:"op"`
	Field string   `json:"field,omitempty"`
	Value any      `json:"value,omitempty"`
	Items []filter `json:"items,omitempty"`
}

func eq(field string, v any) filter    { return filter{Op: "eq", Field: field, Value: v} }
func noteq(field string, v any) filter { return filter{Op: "noteq", Field: field, Value: v} }
func in(field string, v any) filter    { return filter{Op: "in", Field: field, Value: v} }
func contains(field string, v string) filter {
	return filter{Op: "contains", Field: field, Value: v}
}

// queryBody is the JSON body of POST …/query, with the swagger's
// QueryModel property names.
type queryBody struct {
	MaxRecords    int      `json:"maxRecords"`
	IncludeFields []string `json:"includeFields,omitempty"`
	Filter        []filter `json:"filter"`
}

// page is one query answer.
type page[T any] struct {
	Items       []T `json:"items"`
	PageDetails struct {
		Count       int     `json:"count"`
		NextPageURL *string `json:"nextPageUrl"`
	} `json:"pageDetails"`
}

// query returns every record of entity matching filters, 500 per request,
// following nextPageUrl. Autotask's next-page URL takes a POST with the
// same body as the first request (a GET is refused).
func query[T any](ctx context.Context, c *Client, entity string, include []string, filters ...filter) ([]T, error) {
	body := queryBody{MaxRecords: MaxRecords, IncludeFields: include, Filter: filters}
	if body.Filter == nil {
		body.Filter = []filter{}
	}
	ref := "V1.0/" + entity + "/query"
	var all []T
	for i := 0; ; i++ {
		if i == maxPages {
			return nil, apperr.New(apperr.Internal, "Autotask kept answering more pages of %s", entity)
		}
		var p page[T]
		if err := c.call(ctx, http.MethodPost, ref, body, true, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Items...)
		if p.PageDetails.NextPageURL == nil || *p.PageDetails.NextPageURL == "" {
			return all, nil
		}
		next, err := c.pageRef(*p.PageDetails.NextPageURL)
		if err != nil {
			return nil, err
		}
		ref = next
	}
}

// pageRef turns a nextPageUrl into a reference relative to the zone base.
// It refuses a URL outside the zone's API, so the credentials never go to a
// host Autotask's answer names.
func (c *Client) pageRef(next string) (string, error) {
	c.mu.Lock()
	base := c.base
	c.mu.Unlock()
	bu, err1 := url.Parse(base)
	nu, err2 := url.Parse(next)
	if err1 != nil || err2 != nil || !strings.EqualFold(bu.Scheme, nu.Scheme) || !strings.EqualFold(bu.Host, nu.Host) ||
		len(nu.Path) < len(bu.Path) || !strings.EqualFold(nu.Path[:len(bu.Path)], bu.Path) {
		return "", apperr.New(apperr.Transient, "Autotask answered a next-page URL outside its API")
	}
	ref := nu.Path[len(bu.Path):]
	if nu.RawQuery != "" {
		ref += "?" + nu.RawQuery
	}
	return ref, nil
}

// itemResult is the answer of GET …/{id}.
type itemResult[T any] struct {
	Item *T `json:"item"`
}

// get returns one record; NotFound when Autotask has none (it answers
// {"item":null}).
func get[T any](ctx context.Context, c *Client, entity string, id int64, what string) (T, error) {
	var r itemResult[T]
	var zero T
	err := c.call(ctx, http.MethodGet, fmt.Sprintf("V1.0/%s/%d", entity, id), nil, true, &r)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return zero, apperr.Wrap(err, apperr.NotFound, "Autotask has no %s %d", what, id)
		}
		return zero, err
	}
	if r.Item == nil {
		return zero, apperr.New(apperr.NotFound, "Autotask has no %s %d", what, id)
	}
	return *r.Item, nil
}

// itemID is the answer of a create or update.
type itemID struct {
	ItemID int64 `json:"itemId"`
}

// fieldInfo is one field of entityInformation/fields.
type fieldInfo struct {
	Name           string         `json:"name"`
	IsPickList     bool           `json:"isPickList"`
	IsQueryable    bool           `json:"isQueryable"`
	PicklistValues []pickListItem `json:"picklistValues"`
}

type pickListItem struct {
	Value          string `json:"value"`
	Label          string `json:"label"`
	IsDefaultValue bool   `json:"isDefaultValue"`
	IsActive       bool   `json:"isActive"`
	ParentValue    string `json:"parentValue"`
}

// picklist returns the values of an entity field's picklist, reading
// entityInformation/fields once per entity: picklist ids differ between
// Autotask databases.
func (c *Client) picklist(ctx context.Context, entity, field string) ([]pickListItem, error) {
	c.mu.Lock()
	fs, ok := c.fields[entity]
	c.mu.Unlock()
	if !ok {
		var r struct {
			Fields []fieldInfo `json:"fields"`
		}
		if err := c.call(ctx, http.MethodGet, "V1.0/"+entity+"/entityInformation/fields", nil, true, &r); err != nil {
			return nil, err
		}
		fs = map[string]fieldInfo{}
		for _, f := range r.Fields {
			fs[strings.ToLower(f.Name)] = f
		}
		c.mu.Lock()
		c.fields[entity] = fs
		c.mu.Unlock()
	}
	f, ok := fs[strings.ToLower(field)]
	if !ok || !f.IsPickList {
		return nil, apperr.New(apperr.Rejected, "Autotask has no %s picklist on %s", field, entity)
	}
	return f.PicklistValues, nil
}

// options converts a picklist's active values.
func (c *Client) options(ctx context.Context, entity, field string) ([]psa.Option, error) {
	vals, err := c.picklist(ctx, entity, field)
	if err != nil {
		return nil, err
	}
	out := []psa.Option{}
	for _, v := range vals {
		if !v.IsActive {
			continue
		}
		id, err := parseID(v.Value)
		if err != nil {
			return nil, apperr.Wrap(err, apperr.Internal, "Autotask answered a non-numeric %s.%s value", entity, field)
		}
		o := psa.Option{ID: id, Name: v.Label, IsDefault: v.IsDefaultValue}
		if v.ParentValue != "" {
			o.ParentID, _ = parseID(v.ParentValue)
		}
		out = append(out, o)
	}
	return out, nil
}

// pickByLabel returns the id of the picklist value labelled label
// (case-insensitive); Rejected when the database has no such value.
func (c *Client) pickByLabel(ctx context.Context, entity, field, label string) (int64, error) {
	opts, err := c.options(ctx, entity, field)
	if err != nil {
		return 0, err
	}
	for _, o := range opts {
		if strings.EqualFold(strings.TrimSpace(o.Name), label) {
			return o.ID, nil
		}
	}
	return 0, apperr.New(apperr.Rejected, "Autotask has no %q value in %s.%s", label, entity, field)
}

// pickDefault returns the default value of a picklist, 0 when none.
func (c *Client) pickDefault(ctx context.Context, entity, field string) (int64, error) {
	opts, err := c.options(ctx, entity, field)
	if err != nil {
		return 0, err
	}
	for _, o := range opts {
		if o.IsDefault {
			return o.ID, nil
		}
	}
	return 0, nil
}

func parseID(s string) (int64, error) {
	var n int64
	_, err := fmt.Sscan(s, &n)
	if err != nil {
		return 0, errors.New("not an id: " + s)
	}
	return n, nil
}
