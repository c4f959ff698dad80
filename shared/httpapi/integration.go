package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
)

// masked stands in for every secret in responses.
const masked = "********"

// integrationRequest is the body of PUT /v1/integration.
type integrationRequest struct {
	Provider psa.Provider `json:"provider"`
	// Autotask.
	Username        string `json:"username"`
	Secret          string `json:"secret"`
	IntegrationCode string `json:"integrationCode"`
	// ConnectWise (clientId also HaloPSA's).
	Site       string `json:"site"`
	CompanyID  string `json:"companyId"`
	PublicKey  string `json:"publicKey"`
	PrivateKey string `json:"privateKey"`
	ClientID   string `json:"clientId"`
	// HaloPSA.
	Host         string `json:"host"`
	ClientSecret string `json:"clientSecret"`
	Tenant       string `json:"tenant"`
	// Endpoints only where Config.AllowCustomEndpoints.
	Endpoints *endpointsView `json:"endpoints"`

	// What GET adds, accepted so a GET body can be PUT back: the version
	// (checked like If-Match) and read-only members.
	versioned
	CompanyTypeIDs       json.RawMessage `json:"companyTypeIds"`
	TicketingEnabled     json.RawMessage `json:"ticketingEnabled"`
	VerifiedAt           json.RawMessage `json:"verifiedAt"`
	CredentialsUpdatedAt json.RawMessage `json:"credentialsUpdatedAt"`
}

// keepStoredSecrets replaces each secret the request sends masked (as GET
// shows it) with the stored one of the same provider. Invalid when a
// secret is masked but none of that provider is stored.
func (q *integrationRequest) keepStoredSecrets(stored func() (psa.Credentials, error)) error {
	if q.Secret != masked && q.PublicKey != masked && q.PrivateKey != masked && q.ClientSecret != masked {
		return nil
	}
	c, err := stored()
	switch {
	case apperr.Is(err, apperr.NotFound) || (err == nil && c.Provider != q.Provider):
		return apperr.New(apperr.Invalid, "%s stands for the stored secret, and there is no stored %s secret: send the secret itself", masked, q.Provider)
	case err != nil:
		return err
	}
	for _, s := range []struct {
		req    *string
		stored string
	}{{&q.Secret, c.Secret}, {&q.PublicKey, c.PublicKey}, {&q.PrivateKey, c.PrivateKey}, {&q.ClientSecret, c.ClientSecret}} {
		if *s.req == masked {
			*s.req = s.stored
		}
	}
	return nil
}

// sitePattern is a ConnectWise site or a HaloPSA host: a host name, no
// port (the clients build https://{site}/ from it).
var sitePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$`)

// haloTenantPattern is a HaloPSA hosted tenant name.
var haloTenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// hostField is a credential that names a host: what an example looks
// like, and the endpoint that reaches another host or port instead.
type hostField struct {
	name, example, endpoint string
}

// hostFields are the credentials that name a host, by provider.
var hostFields = map[psa.Provider]hostField{
	psa.ConnectWise: {"site", "na.myconnectwise.net", "endpoints.connectwiseLoginUrl"},
	psa.HaloPSA:     {"host", "contoso.halopsa.com", "endpoints.halopsaAuthUrl and endpoints.halopsaApiUrl"},
}

// credentials validates the request's shape and returns the credentials
// with every problem found, one per field (see apperr.Problems).
func (q integrationRequest) credentials() (psa.Credentials, apperr.Problems) {
	c := psa.Credentials{Provider: q.Provider, Username: strings.TrimSpace(q.Username), Secret: q.Secret,
		IntegrationCode: strings.TrimSpace(q.IntegrationCode), Site: strings.TrimSpace(q.Site), CompanyID: strings.TrimSpace(q.CompanyID),
		PublicKey: strings.TrimSpace(q.PublicKey), PrivateKey: q.PrivateKey, ClientID: strings.TrimSpace(q.ClientID),
		Host: strings.TrimSpace(q.Host), ClientSecret: q.ClientSecret, Tenant: strings.TrimSpace(q.Tenant)}
	type field struct {
		name, value string
	}
	all := []field{{"username", c.Username}, {"secret", c.Secret}, {"integrationCode", c.IntegrationCode},
		{"site", c.Site}, {"companyId", c.CompanyID}, {"publicKey", c.PublicKey}, {"privateKey", c.PrivateKey}, {"clientId", c.ClientID},
		{"host", c.Host}, {"clientSecret", c.ClientSecret}, {"tenant", c.Tenant}}
	// The fields each provider requires, and those it may take.
	need, optional := map[psa.Provider][]string{
		psa.Autotask:    {"username", "secret", "integrationCode"},
		psa.ConnectWise: {"site", "companyId", "publicKey", "privateKey", "clientId"},
		psa.HaloPSA:     {"host", "clientId", "clientSecret"},
	}, map[psa.Provider][]string{psa.HaloPSA: {"tenant"}}
	var probs apperr.Problems
	if !c.Provider.Valid() {
		probs.Add("provider", `provider must be "autotask", "connectwise" or "halopsa"`)
		return c, probs
	}
	uses := append(slices.Clone(need[c.Provider]), optional[c.Provider]...)
	for _, f := range all {
		required := slices.Contains(need[c.Provider], f.name)
		switch {
		case !slices.Contains(uses, f.name):
		case f.value == "" && required:
			probs.Add(f.name, "%s is required for %s", f.name, c.Provider)
		case len(f.value) > 500:
			probs.Add(f.name, "%s is longer than 500 characters", f.name)
		}
	}
	for _, f := range all {
		if f.value != "" && !slices.Contains(uses, f.name) {
			probs.Add(f.name, "%s is not used by %s", f.name, c.Provider)
		}
	}
	if hf, ok := hostFields[c.Provider]; ok {
		host := map[psa.Provider]string{psa.ConnectWise: c.Site, psa.HaloPSA: c.Host}[c.Provider]
		switch {
		case host == "":
		case strings.Contains(host, "://"):
			probs.Add(hf.name, "%s is a host name like %s, without https://", hf.name, hf.example)
		case !sitePattern.MatchString(host):
			probs.Add(hf.name, "%s %q must be a host name like %s, without a port or path; to reach a PSA on another host or port "+
				"(e.g. a sandbox on 127.0.0.1:PORT), keep %s a name and set %s (docs/LOCAL.md)", hf.name, host, hf.example, hf.name, hf.endpoint)
		}
	}
	if c.Tenant != "" && len(c.Tenant) <= 500 && !haloTenantPattern.MatchString(c.Tenant) {
		probs.Add("tenant", "tenant must be 1 to 100 letters, digits, dots, dashes or underscores, as Halo names a hosted tenant")
	}
	return c, probs
}

// checkEndpoints adds a problem for each endpoint that is not an http(s) URL.
func checkEndpoints(ep psa.Endpoints, probs *apperr.Problems) {
	for _, e := range []struct{ name, url string }{
		{"autotaskZoneUrl", ep.AutotaskZoneURL}, {"connectwiseLoginUrl", ep.ConnectWiseLoginURL}, {"connectwiseApiUrl", ep.ConnectWiseAPIURL},
		{"halopsaAuthUrl", ep.HaloPSAAuthURL}, {"halopsaApiUrl", ep.HaloPSAAPIURL},
	} {
		if e.url == "" {
			continue
		}
		u, err := url.Parse(e.url)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			probs.Add("endpoints."+e.name, "endpoints.%s must be an http(s) URL", e.name)
		}
	}
}

// integrationView is an integration as admins see it: secrets masked.
type integrationView struct {
	Provider             psa.Provider   `json:"provider"`
	Username             string         `json:"username,omitempty"`
	Secret               string         `json:"secret,omitempty"`
	IntegrationCode      string         `json:"integrationCode,omitempty"`
	Site                 string         `json:"site,omitempty"`
	CompanyID            string         `json:"companyId,omitempty"`
	PublicKey            string         `json:"publicKey,omitempty"`
	PrivateKey           string         `json:"privateKey,omitempty"`
	ClientID             string         `json:"clientId,omitempty"`
	Host                 string         `json:"host,omitempty"`
	ClientSecret         string         `json:"clientSecret,omitempty"`
	Tenant               string         `json:"tenant,omitempty"`
	Endpoints            *endpointsView `json:"endpoints,omitempty"`
	CompanyTypeIDs       []int64        `json:"companyTypeIds"`
	TicketingEnabled     bool           `json:"ticketingEnabled"`
	VerifiedAt           time.Time      `json:"verifiedAt"`
	CredentialsUpdatedAt time.Time      `json:"credentialsUpdatedAt"`
	Version              int64          `json:"version"`
}

func viewOf(in integration.Integration) integrationView {
	v := integrationView{Provider: in.Provider, Username: in.Username, IntegrationCode: in.IntegrationCode, Site: in.Site,
		CompanyID: in.CompanyID, ClientID: in.ClientID, Host: in.Host, Tenant: in.Tenant, CompanyTypeIDs: in.CompanyTypeIDs, TicketingEnabled: in.TicketingEnabled,
		VerifiedAt: in.VerifiedAt, CredentialsUpdatedAt: in.CredentialsUpdatedAt, Version: in.Version}
	if v.CompanyTypeIDs == nil {
		v.CompanyTypeIDs = []int64{}
	}
	switch in.Provider {
	case psa.Autotask:
		v.Secret = masked
	case psa.ConnectWise:
		v.PublicKey, v.PrivateKey = masked, masked
	case psa.HaloPSA:
		v.ClientSecret = masked
	}
	if in.Endpoints != (psa.Endpoints{}) {
		ep := endpointsViewOf(in.Endpoints)
		v.Endpoints = &ep
	}
	return v
}

func (h *Handler) getIntegration(w http.ResponseWriter, r *http.Request) {
	in, err := h.cfg.Store.Integration(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, in.Version, viewOf(in))
}

// putIntegration connects (or rotates) the tenant's PSA
// (app.Integrations.Connect: the credentials are verified against the PSA
// before anything is stored).
func (h *Handler) putIntegration(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r)
	var req integrationRequest
	if err := readJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := req.keepStoredSecrets(func() (psa.Credentials, error) { return h.cfg.Secrets.FreshPSACredentials(r.Context(), tenant) }); err != nil {
		h.fail(w, r, err)
		return
	}
	h.cfg.Redact(req.Secret, req.PrivateKey, req.PublicKey, req.ClientSecret)
	creds, probs := req.credentials()
	ep := h.cfg.Endpoints
	switch {
	case req.Endpoints == nil:
	case !h.cfg.AllowCustomEndpoints:
		probs.Add("endpoints", "endpoints cannot be set on this deployment")
	default:
		ep = req.Endpoints.endpoints()
		checkEndpoints(ep, &probs)
	}
	if err := probs.Err(); err != nil {
		h.fail(w, r, err)
		return
	}
	version, guarded, err := expectedVersion(r, req.versioned)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !guarded {
		version = app.AnyVersion
	}
	saved, err := h.integrations.Connect(r.Context(), tenant, creds, ep, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, saved.Version, viewOf(saved))
}

// deleteIntegration disables the integration and clears all its data
// (app.Integrations.Clear).
func (h *Handler) deleteIntegration(w http.ResponseWriter, r *http.Request) {
	if err := h.integrations.Clear(r.Context(), tenantOf(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type companyTypesRequest struct {
	versioned
	CompanyTypeIDs []int64 `json:"companyTypeIds"`
}

func companyTypesView(in integration.Integration) any {
	return companyTypesRequest{CompanyTypeIDs: in.CompanyTypeIDs, versioned: versioned{Version: &in.Version}}
}

// getChosenCompanyTypes answers the company types chosen for the pickers, with
// the integration's version as the ETag.
func (h *Handler) getChosenCompanyTypes(w http.ResponseWriter, r *http.Request) {
	in, err := h.cfg.Store.Integration(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if in.CompanyTypeIDs == nil {
		in.CompanyTypeIDs = []int64{}
	}
	writeVersioned(w, http.StatusOK, in.Version, companyTypesView(in))
}

// putCompanyTypes chooses the company types the pickers show.
func (h *Handler) putCompanyTypes(w http.ResponseWriter, r *http.Request) {
	var req companyTypesRequest
	if err := readJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if len(req.CompanyTypeIDs) == 0 || len(req.CompanyTypeIDs) > 100 {
		h.fail(w, r, apperr.New(apperr.Invalid, "companyTypeIds must list 1 to 100 company types"))
		return
	}
	cc, err := h.pickers.CompanyTypes(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ids := slices.Clone(req.CompanyTypeIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		if !slices.ContainsFunc(cc.Types, func(t psa.CompanyType) bool { return t.ID == id }) {
			h.fail(w, r, apperr.New(apperr.Rejected, "company type %d does not exist in the PSA", id))
			return
		}
	}
	in := cc.Integration
	in.CompanyTypeIDs = ids
	h.saveIntegration(w, r, req.versioned, in, companyTypesView)
}

// saveIntegration stores a changed integration guarded by If-Match or the
// body's version (else the version read) and answers with view(saved).
func (h *Handler) saveIntegration(w http.ResponseWriter, r *http.Request, body versioned, in integration.Integration, view func(integration.Integration) any) {
	version, err := expectedVersionOr(r, body, in.Version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	saved, err := h.cfg.Store.PutIntegration(r.Context(), tenantOf(r), in, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.pickers.Forget(tenantOf(r))
	writeVersioned(w, http.StatusOK, saved.Version, view(saved))
}

type ticketingBody struct {
	versioned
	Enabled *bool `json:"enabled"`
}

func ticketingView(in integration.Integration) any {
	return ticketingBody{Enabled: &in.TicketingEnabled, versioned: versioned{Version: &in.Version}}
}

func (h *Handler) getTicketing(w http.ResponseWriter, r *http.Request) {
	v, version, err := h.ticketing(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, version, v)
}

// ticketing is the representation of the ticketing switch (GET's body,
// PATCH's base). NotFound without an integration.
func (h *Handler) ticketing(r *http.Request) (any, int64, error) {
	in, err := h.cfg.Store.Integration(r.Context(), tenantOf(r))
	if err != nil {
		return nil, 0, err
	}
	return ticketingView(in), in.Version, nil
}

// putTicketing switches alert ticketing on or off for the tenant.
func (h *Handler) putTicketing(w http.ResponseWriter, r *http.Request) {
	var req ticketingBody
	if err := readJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.Enabled == nil {
		h.fail(w, r, apperr.New(apperr.Invalid, "enabled is required"))
		return
	}
	in, err := h.cfg.Store.Integration(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	in.TicketingEnabled = *req.Enabled
	h.saveIntegration(w, r, req.versioned, in, ticketingView)
}
