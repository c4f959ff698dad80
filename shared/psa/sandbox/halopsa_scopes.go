package sandbox

import (
	"net/http"
	"slices"
	"strings"
)

// Halo API applications carry permissions ("scopes"): all, or read:/edit:
// per area, where edit includes read. A token holds the scopes it was
// granted; an API call outside them is refused with 403. Which area each
// resource belongs to follows Halo's permission names (docs/LOCAL.md,
// "Pointing a tenant at a real HaloPSA"); that the lookups (statuses,
// priorities, ticket types, teams, agents, outcomes) and /Agent/me need
// no scope is unverified.

// haloAreas are the permission areas a scope names.
var haloAreas = []string{"tickets", "customers", "contracts", "invoices", "items", "crm", "assets",
	"suppliers", "kb", "projects", "sales", "quotes", "reporting", "software", "calendar", "timesheets"}

// haloResourceArea is the area of each resource; resources absent need
// only a valid token.
var haloResourceArea = map[string]string{
	"Client": "customers", "TopLevel": "customers", "ClientContract": "contracts", "RecurringInvoice": "invoices",
	"Item": "items", "ItemGroup": "items", "Tickets": "tickets", "Actions": "tickets",
}

// haloKnownScope reports whether s is a scope Halo defines.
func haloKnownScope(s string) bool {
	if s == "all" || s == "admin" {
		return true
	}
	verb, area, ok := strings.Cut(s, ":")
	return ok && (verb == "read" || verb == "edit") && slices.Contains(haloAreas, area)
}

// grantScopes returns the scopes a token request for requested (a
// space-separated list; empty or "all" meaning everything the application
// has) obtains from an application with permissions (empty meaning all),
// or the OAuth error and the scope at fault.
func grantScopes(requested string, permissions []string) ([]string, string, string) {
	if len(permissions) == 0 {
		permissions = []string{"all"}
	}
	want := strings.Fields(requested)
	for _, s := range want {
		if !haloKnownScope(s) {
			return nil, "invalid_scope", s
		}
	}
	if len(want) == 0 || slices.Contains(want, "all") {
		return slices.Clone(permissions), "", ""
	}
	for _, s := range want {
		if !scopeAllows(permissions, s) {
			return nil, "invalid_scope", s
		}
	}
	return want, "", ""
}

// scopeAllows reports whether scopes grant need ("read:x" or "edit:x").
func scopeAllows(scopes []string, need string) bool {
	_, area, _ := strings.Cut(need, ":")
	for _, s := range scopes {
		if s == "all" || s == need || s == "edit:"+area {
			return true
		}
	}
	return false
}

// scopeFor returns the scope a request on route needs ("" for none).
func scopeFor(method, route string) string {
	res, _, _ := strings.Cut(strings.TrimPrefix(route, "/"), "/")
	area := haloResourceArea[res]
	if area == "" {
		return ""
	}
	if method == http.MethodGet {
		return "read:" + area
	}
	return "edit:" + area
}
