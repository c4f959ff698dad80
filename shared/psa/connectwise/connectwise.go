// Package connectwise is the psa.Client for ConnectWise Manage (REST 3.0).
//
// The vendor rules it honours are in PSA-API-NOTES.md section 2: the API
// base comes from login/companyinfo/{company} (cloud needs the api- host);
// every call carries Basic "company+public:private", the clientId header and
// a pinned Accept version; lists are paged with pageSize 1000 following the
// Link header; company types are a child collection (childConditions);
// additions are updated with a JSON Patch array of whole values on
// case-sensitive paths; a ticket is closed by replacing its whole status
// reference; 429 carries Retry-After.
package connectwise

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
)

// Accept pins the API version: models change per release and a deprecated
// version stays supported for 12 months.
const Accept = "application/vnd.connectwise.com+json; version=2025.8"

// PageSize is the largest page the API serves.
const PageSize = 1000

// maxParallel bounds concurrent requests of one ReadLines call. ConnectWise
// publishes no thread limit, but throttles around 1,000 requests a minute.
const maxParallel = 4

// Config configures a Client.
type Config struct {
	// Credentials: Site, CompanyID, PublicKey, PrivateKey and ClientID are
	// required (Site may be empty when both endpoints are overridden).
	Credentials psa.Credentials
	// Endpoints override the login and API hosts (default: https://{site}/
	// and the base derived from companyinfo).
	Endpoints psa.Endpoints
	// Options are the HTTP client, clock and retry loop (unset: their
	// defaults, see psahttp.Options).
	psahttp.Options
}

// Client talks to one ConnectWise Manage company. Safe for concurrent use.
type Client struct {
	cfg   Config // with the default Options filled in
	auth  string
	login string // login base URL, with a trailing slash

	// cloudOnly is true when the site is a ConnectWise cloud host (no
	// custom endpoints): the API host companyinfo names must be one too.
	cloudOnly bool

	mu      sync.Mutex
	apiBase string // discovered or configured, with a trailing slash
}

// siteRule is the message for a site that is not a ConnectWise cloud host.
const siteRule = "the ConnectWise site must be a ConnectWise cloud host (na, eu, au or za.myconnectwise.net, or staging.connectwisedev.com); another host needs custom endpoints configured on purpose"

// cloudRegion is one label of a cloud host: a region (na, eu, au, aus, za…),
// with the API's "api-" prefix or without.
var cloudRegion = regexp.MustCompile(`^(api-)?[a-z]{2,5}$`)

// CloudHost reports whether host (a bare host name, no scheme or port) is a
// ConnectWise cloud host: {region}.myconnectwise.net or
// api-{region}.myconnectwise.net, or the staging hosts staging. and
// api-staging.connectwisedev.com (PSA-API-NOTES.md 2.1, 2.7). These are the
// only hosts psabridge calls for a site unless a deployment configures
// custom endpoints on purpose (AllowCustomEndpoints), so a site cannot
// point psabridge at an arbitrary host.
func CloudHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if label, ok := strings.CutSuffix(host, ".myconnectwise.net"); ok {
		return cloudRegion.MatchString(label)
	}
	return host == "staging.connectwisedev.com" || host == "api-staging.connectwisedev.com"
}

var _ psa.Client = (*Client)(nil)

// New returns a Client. Invalid when a required credential is missing or an
// endpoint is not an absolute URL. It makes no request.
func New(cfg Config) (*Client, error) {
	cr := cfg.Credentials
	if cr.Provider != "" && cr.Provider != psa.ConnectWise {
		return nil, apperr.New(apperr.Invalid, "credentials are for %s, not connectwise", cr.Provider)
	}
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"companyId", cr.CompanyID}, {"publicKey", cr.PublicKey}, {"privateKey", cr.PrivateKey}, {"clientId", cr.ClientID},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	ep := cfg.Endpoints
	if cr.Site == "" && (ep.ConnectWiseLoginURL == "" && ep.ConnectWiseAPIURL == "") {
		missing = append(missing, "site")
	}
	if len(missing) > 0 {
		return nil, apperr.New(apperr.Invalid, "ConnectWise credentials are missing %s", strings.Join(missing, ", "))
	}
	if strings.ContainsAny(cr.Site, "/:@?# ") {
		return nil, apperr.New(apperr.Invalid, "the ConnectWise site must be a host name such as na.myconnectwise.net")
	}
	// Custom endpoints are explicit configuration; otherwise the site is
	// the only host psabridge is told, and it must be ConnectWise's.
	cloudOnly := ep.ConnectWiseLoginURL == "" && ep.ConnectWiseAPIURL == ""
	if cloudOnly && !CloudHost(cr.Site) {
		return nil, apperr.New(apperr.Invalid, "%s", siteRule)
	}
	cfg.Options = cfg.Options.WithDefaults()
	c := &Client{cfg: cfg, cloudOnly: cloudOnly}
	c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cr.CompanyID+"+"+cr.PublicKey+":"+cr.PrivateKey))
	c.login = ep.ConnectWiseLoginURL
	if c.login == "" {
		c.login = "https://" + cr.Site + "/"
	}
	for _, u := range []*string{&c.login, &ep.ConnectWiseAPIURL} {
		if *u == "" {
			continue
		}
		p, err := url.Parse(*u)
		if err != nil || p.Host == "" || (p.Scheme != "https" && p.Scheme != "http") {
			return nil, apperr.New(apperr.Invalid, "ConnectWise endpoint %q is not an absolute http(s) URL", *u)
		}
		*u = strings.TrimSuffix(*u, "/") + "/"
	}
	c.apiBase = ep.ConnectWiseAPIURL
	return c, nil
}

// Provider returns psa.ConnectWise.
func (c *Client) Provider() psa.Provider { return psa.ConnectWise }

// companyInfo is the answer of login/companyinfo/{company}.
type companyInfo struct {
	CompanyName string `json:"CompanyName"`
	Codebase    string `json:"Codebase"`
	CompanyID   string `json:"CompanyID"`
	IsCloud     bool   `json:"IsCloud"`
	SiteURL     string `json:"SiteUrl"`
}

// base returns the API base, discovering it once through companyinfo.
// Cloud sites need the api- host: without it the API answers "SSL is
// required". On-premise sites serve the API on their own host.
func (c *Client) base(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apiBase != "" {
		return c.apiBase, nil
	}
	u := c.login + "login/companyinfo/" + url.PathEscape(c.cfg.Credentials.CompanyID)
	var info companyInfo
	if _, err := c.send(ctx, http.MethodGet, u, nil, true, &info); err != nil {
		return "", err
	}
	if info.Codebase == "" || info.SiteURL == "" {
		// An unknown company id gets an empty answer, not a 404.
		return "", apperr.New(apperr.Unauthorized, "ConnectWise does not know the company id %q on this site", c.cfg.Credentials.CompanyID)
	}
	codebase := strings.Trim(info.Codebase, "/") + "/"
	site := strings.TrimSuffix(info.SiteURL, "/")
	switch {
	case strings.Contains(site, "://"):
		// Some on-premise answers carry a scheme already.
	case info.IsCloud:
		site = "https://api-" + site
	default:
		lu, _ := url.Parse(c.login)
		site = lu.Scheme + "://" + site
	}
	base := site + "/" + codebase + "apis/3.0/"
	if c.cloudOnly {
		// The answer came from a cloud host; the API must be on one too.
		if u, err := url.Parse(base); err != nil || u.Scheme != "https" || u.Port() != "" || !CloudHost(u.Hostname()) {
			return "", apperr.New(apperr.Rejected, "ConnectWise's company info names an API host that is not a ConnectWise cloud host")
		}
	}
	c.apiBase = base
	return c.apiBase, nil
}

// errorBody is ConnectWise's ErrorResponseMessage, plus the throttling
// answer's {"error","message"}.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Error   string `json:"error"`
	Errors  []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"errors"`
}

// vendorDetails returns the vendor's own texts, verbatim, from an
// ErrorResponseMessage; nothing for any other body.
func vendorDetails(body []byte) []string {
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil {
		// Not ConnectWise's JSON: maybe not ConnectWise at all (a proxy, or
		// a host the site was pointed at). Never echo a foreign body.
		return nil
	}
	var out []string
	if eb.Message != "" {
		out = append(out, eb.Message)
	}
	for _, e := range eb.Errors {
		if e.Message != "" {
			out = append(out, e.Message)
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
		e.Err = fmt.Errorf("connectwise %s %s: HTTP %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, strings.Join(details, "; "))
		return e
	}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized:
		return psahttp.Attempt{Err: mk(apperr.Unauthorized, "ConnectWise refused the API keys")}
	case s == http.StatusForbidden:
		return psahttp.Attempt{Err: mk(apperr.Forbidden, "the ConnectWise API member lacks a permission")}
	case s == http.StatusNotFound:
		return psahttp.Attempt{Err: mk(apperr.NotFound, "ConnectWise has no such record")}
	case s == http.StatusTooManyRequests:
		e := mk(apperr.Transient, "ConnectWise is throttling requests")
		e.RetryAfter = psahttp.RetryAfter(resp.Header, c.cfg.Now())
		return psahttp.Attempt{Err: e, Unprocessed: true}
	case s == http.StatusConflict:
		// "Record in use": refused, not acted on; it frees up shortly.
		return psahttp.Attempt{Err: mk(apperr.Transient, "the ConnectWise record is in use"), Unprocessed: true}
	case s >= 500:
		e := mk(apperr.Transient, "ConnectWise failed; try again later")
		e.RetryAfter = psahttp.RetryAfter(resp.Header, c.cfg.Now())
		return psahttp.Attempt{Err: e}
	default:
		return psahttp.Attempt{Err: mk(apperr.Rejected, "ConnectWise rejected the request")}
	}
}

// send makes one call with retries. body is JSON-encoded when non-nil; out,
// when non-nil, receives the decoded answer. It returns the last answer's
// headers (for Link).
func (c *Client) send(ctx context.Context, method, u string, body any, idempotent bool, out any) (http.Header, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, apperr.Wrap(err, apperr.Internal, "encoding a ConnectWise request")
		}
	}
	var hdr http.Header
	err := c.cfg.Retry.Do(ctx, idempotent, func(ctx context.Context) psahttp.Attempt {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(payload))
		if err != nil {
			return psahttp.Attempt{Err: apperr.Wrap(err, apperr.Invalid, "bad ConnectWise URL")}
		}
		if payload == nil {
			req.Body, req.ContentLength, req.GetBody = nil, 0, nil
		}
		req.Header.Set("Authorization", c.auth)
		req.Header.Set("clientId", c.cfg.Credentials.ClientID)
		req.Header.Set("Accept", Accept)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.cfg.HTTPClient.Do(req)
		if err != nil {
			return psahttp.TransportError(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return psahttp.Attempt{Err: apperr.Wrap(err, apperr.Transient, "reading the ConnectWise answer")}
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return c.classify(resp, data)
		}
		hdr = resp.Header
		if out != nil && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				// Not our bug and not worth a retry: the host does not
				// answer like ConnectWise. The body is not echoed.
				return psahttp.Attempt{Err: apperr.Wrap(err, apperr.Rejected, "the answer is not ConnectWise's JSON")}
			}
		}
		return psahttp.Attempt{}
	})
	return hdr, err
}

// call sends to a path under the API base.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, body any, idempotent bool, out any) (http.Header, error) {
	base, err := c.base(ctx)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, method, base+path+encodeQuery(q), body, idempotent, out)
}

// encodeQuery encodes spaces as %20: conditions are full of them, and the
// vendor's documentation shows %20, not +.
func encodeQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	return "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
}

// getAll reads every page of a list, following the Link header's next
// page. The next link must stay on the API host: a server that points
// elsewhere does not get our credentials.
func getAll[T any](ctx context.Context, c *Client, path string, q url.Values) ([]T, error) {
	base, err := c.base(ctx)
	if err != nil {
		return nil, err
	}
	if q == nil {
		q = url.Values{}
	}
	q.Set("pageSize", strconv.Itoa(PageSize))
	q.Set("page", "1")
	u := base + path + encodeQuery(q)
	bu, _ := url.Parse(base)
	var all []T
	for pages := 0; u != ""; pages++ {
		if pages > 10000 {
			return nil, apperr.New(apperr.Internal, "ConnectWise paging does not end")
		}
		var page []T
		hdr, err := c.send(ctx, http.MethodGet, u, nil, true, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		u = nextLink(hdr.Get("Link"))
		if u != "" {
			nu, err := url.Parse(u)
			if err != nil || nu.Host != bu.Host || nu.Scheme != bu.Scheme {
				return nil, apperr.New(apperr.Rejected, "ConnectWise sent a next-page link off the API host")
			}
		}
	}
	return all, nil
}

// nextLink extracts the rel="next" URL of a Link header.
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		segs := strings.Split(part, ";")
		if len(segs) < 2 {
			continue
		}
		target := strings.TrimSpace(segs[0])
		for _, p := range segs[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" &&
				strings.HasPrefix(target, "<") && strings.HasSuffix(target, ">") {
				return target[1 : len(target)-1]
			}
		}
	}
	return ""
}

// quote renders a conditions string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// systemInfo is the answer of /system/info.
type systemInfo struct {
	Version        *string `json:"version"`
	IsCloud        *bool   `json:"isCloud"`
	ServerTimeZone *string `json:"serverTimeZone"`
}

// versionPattern is a Manage release ("v2025.1.0.0", "v2019.3.67433").
var versionPattern = regexp.MustCompile(`^v?20[0-9]{2}\.[0-9]+(\.[0-9]+)*$`)

// Verify discovers the API base and calls /system/info, the cheapest
// authenticated call, and checks that the answer is ConnectWise's: a JSON
// object with a Manage release version, isCloud and serverTimeZone (any
// server that answers 200, e.g. an unrelated service at a custom endpoint,
// must not pass). Unauthorized, Forbidden or Rejected with the vendor's
// text when the credentials do not work; Rejected without details when the
// host does not answer like ConnectWise; Transient when ConnectWise fails.
func (c *Client) Verify(ctx context.Context) error {
	var info systemInfo
	if _, err := c.call(ctx, http.MethodGet, "system/info", nil, nil, true, &info); err != nil {
		return err
	}
	if info.Version == nil || !versionPattern.MatchString(*info.Version) || info.IsCloud == nil || info.ServerTimeZone == nil {
		return apperr.New(apperr.Rejected, "the host does not answer like ConnectWise Manage (GET system/info)")
	}
	return nil
}

// reference is a ConnectWise reference object.
type reference struct {
	ID         int64  `json:"id,omitempty"`
	Identifier string `json:"identifier,omitempty"`
	Name       string `json:"name,omitempty"`
}

// lookup is a row of a simple list (types, priorities, sources, boards,
// board statuses and types).
type lookup struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	DefaultFlag  bool      `json:"defaultFlag"`
	ClosedStatus bool      `json:"closedStatus"`
	Inactive     bool      `json:"inactive"`
	InactiveFlag bool      `json:"inactiveFlag"`
	Board        reference `json:"board"`
}

func (l lookup) option(parent int64) psa.Option {
	return psa.Option{ID: l.ID, Name: l.Name, IsDefault: l.DefaultFlag, Closed: l.ClosedStatus, ParentID: parent}
}

// CompanyTypes lists /company/companies/types.
func (c *Client) CompanyTypes(ctx context.Context) ([]psa.CompanyType, error) {
	rows, err := getAll[lookup](ctx, c, "company/companies/types", nil)
	if err != nil {
		return nil, err
	}
	out := make([]psa.CompanyType, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.option(0))
	}
	return out, nil
}

// companyRow is the part of Company we read. The fields= list keeps the
// schema's required properties (identifier, name) so partial answers stay
// valid Company objects.
type companyRow struct {
	ID          int64       `json:"id"`
	Identifier  string      `json:"identifier"`
	Name        string      `json:"name"`
	Types       []reference `json:"types"`
	DeletedFlag bool        `json:"deletedFlag"`
}

const companyFields = "id,identifier,name,types,deletedFlag"

func (r companyRow) company() psa.Company {
	co := psa.Company{ID: r.ID, Name: r.Name, Active: !r.DeletedFlag, TypeIDs: []int64{}}
	for _, t := range r.Types {
		co.TypeIDs = append(co.TypeIDs, t.ID)
	}
	return co
}

// Companies lists companies not deleted, of any of f.TypeIDs (a child
// collection, hence childConditions), whose name contains f.NameContains.
func (c *Client) Companies(ctx context.Context, f psa.CompanyFilter) ([]psa.Company, error) {
	q := url.Values{"fields": {companyFields}}
	cond := "deletedFlag=false"
	if f.NameContains != "" {
		cond += " AND name contains " + quote(f.NameContains)
	}
	q.Set("conditions", cond)
	if len(f.TypeIDs) > 0 {
		parts := make([]string, 0, len(f.TypeIDs))
		for _, id := range f.TypeIDs {
			parts = append(parts, "types/id="+strconv.FormatInt(id, 10))
		}
		q.Set("childConditions", strings.Join(parts, " OR "))
	}
	rows, err := getAll[companyRow](ctx, c, "company/companies", q)
	if err != nil {
		return nil, err
	}
	out := make([]psa.Company, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.company())
	}
	return out, nil
}

// Company reads one company; NotFound when it does not exist.
func (c *Client) Company(ctx context.Context, id int64) (psa.Company, error) {
	var r companyRow
	if _, err := c.call(ctx, http.MethodGet, "company/companies/"+strconv.FormatInt(id, 10), nil, nil, true, &r); err != nil {
		return psa.Company{}, err
	}
	return r.company(), nil
}

// agreementRow is the part of Agreement we read.
type agreementRow struct {
	ID              int64     `json:"id"`
	Name            string    `json:"name"`
	Company         reference `json:"company"`
	CancelledFlag   bool      `json:"cancelledFlag"`
	AgreementStatus string    `json:"agreementStatus"`
	OneTimeFlag     bool      `json:"oneTimeFlag"`
	StartDate       string    `json:"startDate"`
	EndDate         string    `json:"endDate"`
}

// agreementFields keeps Agreement's required properties (name, type,
// company, contact).
const agreementFields = "id,name,type,company,contact,cancelledFlag,agreementStatus,oneTimeFlag,startDate,endDate"

func (r agreementRow) contract() psa.Contract {
	ct := psa.Contract{
		ID: r.ID, CompanyID: r.Company.ID, Name: r.Name, Recurring: !r.OneTimeFlag,
		// Expired is an ended agreement, which EndDate tells; Active
		// means not cancelled or inactive.
		Active: !r.CancelledFlag && (r.AgreementStatus == "" || r.AgreementStatus == "Active" || r.AgreementStatus == "Expired"),
	}
	ct.StartDate, _ = time.Parse(time.RFC3339, r.StartDate)
	ct.EndDate, _ = time.Parse(time.RFC3339, r.EndDate)
	return ct
}

// Contracts lists a company's agreements that are not cancelled.
func (c *Client) Contracts(ctx context.Context, companyID int64) ([]psa.Contract, error) {
	q := url.Values{
		"conditions": {"company/id=" + strconv.FormatInt(companyID, 10) + " AND cancelledFlag=false"},
		"fields":     {agreementFields},
	}
	rows, err := getAll[agreementRow](ctx, c, "finance/agreements", q)
	if err != nil {
		return nil, err
	}
	out := make([]psa.Contract, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.contract())
	}
	return out, nil
}

// Contract reads one agreement; NotFound when it does not exist.
func (c *Client) Contract(ctx context.Context, id int64) (psa.Contract, error) {
	var r agreementRow
	if _, err := c.call(ctx, http.MethodGet, "finance/agreements/"+strconv.FormatInt(id, 10), nil, nil, true, &r); err != nil {
		return psa.Contract{}, err
	}
	return r.contract(), nil
}

// additionRow is the part of Addition we read.
type additionRow struct {
	ID            int64     `json:"id"`
	AgreementID   int64     `json:"agreementId"`
	Product       reference `json:"product"`
	Description   string    `json:"description"`
	Quantity      float64   `json:"quantity"`
	UnitPrice     float64   `json:"unitPrice"`
	UnitCost      float64   `json:"unitCost"`
	CancelledDate string    `json:"cancelledDate"`
	EffectiveDate string    `json:"effectiveDate"`
	// AgreementStatus is the agreement's (read-only): Active, Cancelled,
	// Expired or Inactive.
	AgreementStatus string `json:"agreementStatus"`
}

// additionFields keeps Addition's required properties (product,
// billCustomer) and what a line's state needs, nothing else.
const additionFields = "id,agreementId,product,billCustomer,description,quantity,unitPrice,unitCost,cancelledDate,effectiveDate,agreementStatus"

// starts returns the addition's effective date when it lies after now.
func (r additionRow) starts(now time.Time) time.Time {
	t, err := time.Parse(time.RFC3339, r.EffectiveDate)
	if err != nil || !t.After(now) {
		return time.Time{}
	}
	return t
}

// cancelled reports whether the addition is cancelled at now. The null
// syntax of a server-side cancelledDate filter is unverified, so the
// client decides.
func (r additionRow) cancelled(now time.Time) bool {
	if r.CancelledDate == "" {
		return false
	}
	t, err := time.Parse(time.RFC3339, r.CancelledDate)
	return err != nil || !t.After(now)
}

func (c *Client) additions(ctx context.Context, agreementID int64) ([]additionRow, error) {
	return getAll[additionRow](ctx, c, "finance/agreements/"+strconv.FormatInt(agreementID, 10)+"/additions",
		url.Values{"fields": {additionFields}})
}

// Lines lists an agreement's additions, those cancelled by now marked
// Cancelled (so a mapping to one is refused for that reason, not as
// unknown).
func (c *Client) Lines(ctx context.Context, contractID int64) ([]psa.ServiceLine, error) {
	rows, err := c.additions(ctx, contractID)
	if err != nil {
		return nil, err
	}
	now := c.cfg.Now()
	out := make([]psa.ServiceLine, 0, len(rows))
	for _, r := range rows {
		name := r.Description
		if name == "" {
			name = r.Product.Identifier
		}
		out = append(out, psa.ServiceLine{
			ID: r.ID, ContractID: contractID, ServiceID: r.Product.ID, Name: name,
			UnitPrice: r.UnitPrice, UnitCost: r.UnitCost, Cancelled: r.cancelled(now),
		})
	}
	return out, nil
}

// ReadLines reads the additions of each distinct agreement in refs, one
// paged list per agreement (ConnectWise has no cross-agreement additions
// list), at most maxParallel at a time. An addition's quantity is not
// period-bound in ConnectWise, so at is not used. Agreements that are gone
// leave their lines absent; any other error stops the rest and is returned.
// A state says whether the addition is cancelled by now, whether its
// agreement is cancelled, inactive or expired (the addition's
// agreementStatus), and when it starts if that is still ahead: ConnectWise
// takes a PATCH of a cancelled addition, so the caller must not write one.
func (c *Client) ReadLines(ctx context.Context, refs []psa.LineRef, at time.Time) (map[psa.LineRef]psa.LineState, error) {
	want := map[int64]map[int64]bool{}
	var order []int64
	for _, r := range refs {
		if want[r.ContractID] == nil {
			want[r.ContractID] = map[int64]bool{}
			order = append(order, r.ContractID)
		}
		want[r.ContractID][r.LineID] = true
	}
	if len(order) == 0 {
		return map[psa.LineRef]psa.LineState{}, nil
	}
	// Discover the base once, before fanning out.
	if _, err := c.base(ctx); err != nil {
		return nil, err
	}
	out := make(map[psa.LineRef]psa.LineState, len(refs))
	now := c.cfg.Now()
	var mu sync.Mutex // guards out
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallel)
	for _, agreementID := range order {
		g.Go(func() error {
			rows, err := c.additions(ctx, agreementID)
			if err != nil {
				if apperr.Is(err, apperr.NotFound) {
					return nil // the agreement is gone: its lines are absent
				}
				return err // cancels the rest
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range rows {
				ref := psa.LineRef{ContractID: agreementID, LineID: r.ID}
				if want[agreementID][r.ID] {
					out[ref] = psa.LineState{
						Ref: ref, ServiceID: r.Product.ID, Quantity: int64(math.Round(r.Quantity)),
						UnitCost: r.UnitCost, UnitPrice: r.UnitPrice, Cancelled: r.cancelled(now),
						ContractCancelled: r.AgreementStatus == "Cancelled" || r.AgreementStatus == "Inactive",
						ContractEnded:     r.AgreementStatus == "Expired", Starts: r.starts(now),
					}
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// patchOp is one JSON Patch operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// SetLine replaces the addition's quantity and unit cost with a JSON Patch.
// The values are absolute, so a retry after a timeout cannot double count:
// the call is idempotent. The effective date is not sent: an in-place
// update of an addition has none (history would need cancel and re-add).
// Rejected with the vendor's text, NotFound when the addition is gone.
func (c *Client) SetLine(ctx context.Context, u psa.LineUpdate) error {
	if u.Quantity < 0 || u.UnitCost < 0 || math.IsNaN(u.UnitCost) || math.IsInf(u.UnitCost, 0) {
		return apperr.New(apperr.Invalid, "quantity and unit cost must be non-negative numbers")
	}
	ops := []patchOp{
		{Op: "replace", Path: "quantity", Value: u.Quantity},
		{Op: "replace", Path: "unitCost", Value: u.UnitCost},
	}
	path := fmt.Sprintf("finance/agreements/%d/additions/%d", u.Ref.ContractID, u.Ref.LineID)
	_, err := c.call(ctx, http.MethodPatch, path, nil, ops, true, nil)
	return err
}

// CreateLine posts one addition to agreement contractID: product by id,
// billCustomer Billable, quantity, unitCost and effectiveDate (the unit
// price is the catalog's, which ConnectWise fills in). One request, never
// resent after an ambiguous failure: Lines shows whether it was added.
// NotFound when the agreement is gone; Rejected with ConnectWise's words
// (e.g. an unknown product).
func (c *Client) CreateLine(ctx context.Context, contractID, serviceID, quantity int64, unitCost float64, effective time.Time) (psa.ServiceLine, error) {
	if contractID <= 0 || serviceID <= 0 || quantity < 0 || unitCost < 0 || math.IsNaN(unitCost) || math.IsInf(unitCost, 0) || effective.IsZero() {
		return psa.ServiceLine{}, apperr.New(apperr.Invalid, "a line needs an agreement, a product, non-negative quantity and unit cost, and an effective date")
	}
	body := map[string]any{"product": reference{ID: serviceID}, "billCustomer": "Billable", "quantity": quantity,
		"unitCost": unitCost, "effectiveDate": effective.UTC().Format(time.RFC3339)}
	var r additionRow
	path := fmt.Sprintf("finance/agreements/%d/additions", contractID)
	if _, err := c.call(ctx, http.MethodPost, path, nil, body, false, &r); err != nil {
		return psa.ServiceLine{}, err
	}
	name := r.Description
	if name == "" {
		name = r.Product.Identifier
	}
	return psa.ServiceLine{ID: r.ID, ContractID: contractID, ServiceID: serviceID, Name: name, UnitPrice: r.UnitPrice, UnitCost: r.UnitCost}, nil
}

// TicketOptions lists boards (active), each board's statuses and types,
// priorities and sources: 3 + 2×boards requests.
func (c *Client) TicketOptions(ctx context.Context) (psa.TicketOptions, error) {
	var opts psa.TicketOptions
	boards, err := getAll[lookup](ctx, c, "service/boards", url.Values{"conditions": {"inactiveFlag=false"}})
	if err != nil {
		return opts, err
	}
	for _, b := range boards {
		opts.Boards = append(opts.Boards, b.option(0))
		statuses, err := getAll[lookup](ctx, c, fmt.Sprintf("service/boards/%d/statuses", b.ID), nil)
		if err != nil {
			return opts, err
		}
		for _, s := range statuses {
			if !s.Inactive {
				opts.Statuses = append(opts.Statuses, s.option(b.ID))
			}
		}
		types, err := getAll[lookup](ctx, c, fmt.Sprintf("service/boards/%d/types", b.ID), nil)
		if err != nil {
			return opts, err
		}
		for _, t := range types {
			if !t.InactiveFlag {
				opts.IssueTypes = append(opts.IssueTypes, t.option(b.ID))
			}
		}
	}
	for _, l := range []struct {
		path string
		dst  *[]psa.Option
	}{{"service/priorities", &opts.Priorities}, {"service/sources", &opts.Sources}} {
		rows, err := getAll[lookup](ctx, c, l.path, nil)
		if err != nil {
			return opts, err
		}
		for _, r := range rows {
			*l.dst = append(*l.dst, r.option(0))
		}
	}
	return opts, nil
}

// ticketRow is the part of Ticket we read.
type ticketRow struct {
	ID           int64     `json:"id"`
	Summary      string    `json:"summary"`
	Company      reference `json:"company"`
	Status       reference `json:"status"`
	ExternalXRef string    `json:"externalXRef"`
}

func (r ticketRow) ticket() psa.Ticket {
	return psa.Ticket{ID: r.ID, CompanyID: r.Company.ID, Title: r.Summary, ExternalKey: r.ExternalXRef, StatusID: r.Status.ID}
}

// maxXRef is Ticket.externalXRef's limit.
const maxXRef = 100

// FindOpenTicket finds a company's open ticket by externalXRef; NotFound
// when there is none.
func (c *Client) FindOpenTicket(ctx context.Context, companyID int64, externalKey string) (psa.Ticket, error) {
	if externalKey == "" || utf8.RuneCountInString(externalKey) > maxXRef {
		return psa.Ticket{}, apperr.New(apperr.Invalid, "the external key must be 1 to %d characters", maxXRef)
	}
	q := url.Values{
		"conditions": {fmt.Sprintf("externalXRef=%s AND closedFlag=False AND company/id=%d", quote(externalKey), companyID)},
		"fields":     {"id,summary,company,status,externalXRef,closedFlag"},
		"pageSize":   {"1"},
	}
	var rows []ticketRow
	if _, err := c.call(ctx, http.MethodGet, "service/tickets", q, nil, true, &rows); err != nil {
		return psa.Ticket{}, err
	}
	if len(rows) == 0 {
		return psa.Ticket{}, apperr.New(apperr.NotFound, "no open ConnectWise ticket has external key %q", externalKey)
	}
	return rows[0].ticket(), nil
}

// idRef is a reference sent in a request body.
type idRef struct {
	ID int64 `json:"id"`
}

func ref(id int64) *idRef {
	if id == 0 {
		return nil
	}
	return &idRef{ID: id}
}

// ticketCreate is the POST /service/tickets body.
type ticketCreate struct {
	Summary            string `json:"summary"`
	Company            *idRef `json:"company"`
	Board              *idRef `json:"board,omitempty"`
	Status             *idRef `json:"status,omitempty"`
	Priority           *idRef `json:"priority,omitempty"`
	Source             *idRef `json:"source,omitempty"`
	Type               *idRef `json:"type,omitempty"`
	RequiredDate       string `json:"requiredDate,omitempty"`
	ExternalXRef       string `json:"externalXRef,omitempty"`
	InitialDescription string `json:"initialDescription,omitempty"`
}

// CreateTicket opens a ticket. The summary is cut to 100 characters (the
// schema's limit); an external key over 100 is Invalid, since a cut key
// would not be found again. Not retried after a failure that may have
// created it: look the key up before trying again.
func (c *Client) CreateTicket(ctx context.Context, s psa.TicketSpec) (psa.Ticket, error) {
	if s.CompanyID == 0 || strings.TrimSpace(s.Title) == "" {
		return psa.Ticket{}, apperr.New(apperr.Invalid, "a ticket needs a company and a title")
	}
	if utf8.RuneCountInString(s.ExternalKey) > maxXRef {
		return psa.Ticket{}, apperr.New(apperr.Invalid, "the external key must be at most %d characters", maxXRef)
	}
	body := ticketCreate{
		Summary: psa.Truncate(s.Title, psa.ConnectWise.TitleLimit()), Company: ref(s.CompanyID),
		Board: ref(s.BoardID), Status: ref(s.StatusID), Priority: ref(s.PriorityID), Source: ref(s.SourceID),
		Type: ref(s.IssueTypeID), ExternalXRef: s.ExternalKey, InitialDescription: s.Description,
	}
	if !s.Due.IsZero() {
		body.RequiredDate = s.Due.UTC().Format("2006-01-02T15:04:05Z")
	}
	var r ticketRow
	if _, err := c.call(ctx, http.MethodPost, "service/tickets", nil, body, false, &r); err != nil {
		return psa.Ticket{}, err
	}
	return r.ticket(), nil
}

// AddNote adds a detail-description note; the title, when set, heads the
// text. Not retried after a failure that may have added it.
func (c *Client) AddNote(ctx context.Context, ticketID int64, n psa.Note) error {
	text := n.Text
	if n.Title != "" {
		text = n.Title + "\n\n" + n.Text
	}
	if strings.TrimSpace(text) == "" {
		return apperr.New(apperr.Invalid, "a note needs text")
	}
	body := map[string]any{"text": text, "detailDescriptionFlag": true}
	_, err := c.call(ctx, http.MethodPost, fmt.Sprintf("service/tickets/%d/notes", ticketID), nil, body, false, nil)
	return err
}

// HasNote looks for a note of the ticket whose text contains marker (one
// GET of the ticket's notes with a condition).
func (c *Client) HasNote(ctx context.Context, ticketID int64, marker string) (bool, error) {
	if marker == "" {
		return false, apperr.New(apperr.Invalid, "a note marker is needed")
	}
	q := url.Values{"conditions": {"text contains " + quote(marker)}, "fields": {"id"}, "pageSize": {"1"}}
	var rows []struct {
		ID int64 `json:"id"`
	}
	if _, err := c.call(ctx, http.MethodGet, fmt.Sprintf("service/tickets/%d/notes", ticketID), q, nil, true, &rows); err != nil {
		return false, err
	}
	return len(rows) > 0, nil
}

// CloseTicket replaces the ticket's whole status reference (a "status/id"
// path can answer 200 and change nothing). Idempotent.
func (c *Client) CloseTicket(ctx context.Context, ticketID int64, statusID int64) error {
	if statusID == 0 {
		return apperr.New(apperr.Invalid, "closing a ticket needs a status")
	}
	ops := []patchOp{{Op: "replace", Path: "status", Value: idRef{ID: statusID}}}
	_, err := c.call(ctx, http.MethodPatch, fmt.Sprintf("service/tickets/%d", ticketID), nil, ops, true, nil)
	return err
}
