package httpapi

// The API's one route table. Every route is registered here, with its guard:
// platform (signed by the tenant's platform secret), operator (the vendor's
// operators), billingAdmin / admin (a tenant admin's token). New registers
// all of them; NewWebhook only the webhook's.

// routeTable registers every route of the REST API.
func (h *Handler) routeTable() {
	// The platform's signed requests and the operators' tenant provisioning.
	h.handle("POST /v1/usage", h.platform(h.postUsage))
	h.handle("PUT /v1/orgs/{org}", h.platform(h.putOrg))
	h.handle("POST /v1/platform/tenants", h.operator(h.postTenant))
	h.handle("POST /v1/platform/tenants/{tenant}/rotate-secret", h.operator(h.rotateSecret))
	h.webhookRoutes()

	// Tenant admins: every route needs the billing role and acts on the
	// tenant of the caller's token only.
	h.handle("GET /v1/tenant", h.billingAdmin(h.getTenant))
	h.handle("GET /v1/integration", h.billingAdmin(h.getIntegration))
	h.handle("PUT /v1/integration", h.billingAdmin(h.putIntegration))
	h.handle("DELETE /v1/integration", h.billingAdmin(h.deleteIntegration))
	h.handle("GET /v1/integration/company-types", h.billingAdmin(h.getChosenCompanyTypes))
	h.handle("PUT /v1/integration/company-types", h.billingAdmin(h.putCompanyTypes))
	h.handle("GET /v1/ticketing", h.billingAdmin(h.getTicketing))
	h.handle("PUT /v1/ticketing", h.billingAdmin(h.putTicketing))
	h.handle("PATCH /v1/ticketing", h.billingAdmin(h.mergePatch(h.ticketing, h.putTicketing)))

	h.handle("GET /v1/psa/company-types", h.billingAdmin(h.getCompanyTypes))
	h.handle("GET /v1/psa/companies", h.billingAdmin(h.getCompanies))
	h.handle("GET /v1/psa/companies/{id}/contracts", h.billingAdmin(h.getContracts))
	h.handle("GET /v1/psa/contracts/{id}/lines", h.billingAdmin(h.getLines))
	h.handle("GET /v1/psa/ticket-options", h.billingAdmin(h.getTicketOptions))
	h.handle("GET /v1/psa/catalog-options", h.billingAdmin(h.getCatalogOptions))

	h.handle("GET /v1/orgs", h.billingAdmin(h.getOrgs))
	h.handle("GET /v1/orgs/{org}/mapping", h.billingAdmin(h.getMapping))
	h.handle("PUT /v1/orgs/{org}/mapping", h.billingAdmin(h.putMapping))
	h.handle("PATCH /v1/orgs/{org}/mapping", h.billingAdmin(h.mergePatch(h.mapping, h.putMapping)))
	h.handle("DELETE /v1/orgs/{org}/mapping", h.billingAdmin(h.deleteMapping))
	h.handle("GET /v1/orgs/{org}/mapping/health", h.billingAdmin(h.getMappingHealth))
	h.handle("GET /v1/orgs/{org}/mapping/suggestions", h.billingAdmin(h.getMappingSuggestions))
	h.handle("GET /v1/mapping-suggestions", h.billingAdmin(h.getBulkSuggestions))
	h.handle("GET /v1/reconciliation", h.billingAdmin(h.getReconciliation))

	h.handle("GET /v1/billing-settings", h.billingAdmin(h.getBillingSettings))
	h.handle("PUT /v1/billing-settings", h.billingAdmin(h.putBillingSettings))
	h.handle("PATCH /v1/billing-settings", h.billingAdmin(h.mergePatch(h.billingSettings, h.putBillingSettings)))

	h.handle("GET /v1/catalog", h.billingAdmin(h.getCatalog))
	h.handle("PUT /v1/catalog", h.billingAdmin(h.putCatalog))
	h.handle("POST /v1/catalog/push", h.billingAdmin(h.pushCatalog))

	h.handle("GET /v1/alert-rules", h.billingAdmin(h.getAlertRules))
	h.handle("GET /v1/alert-rules/{alertType}", h.billingAdmin(h.getAlertRule))
	h.handle("PUT /v1/alert-rules/{alertType}", h.billingAdmin(h.putAlertRule))
	h.handle("PATCH /v1/alert-rules/{alertType}", h.billingAdmin(h.mergePatch(h.alertRule, h.putAlertRule)))
	h.handle("GET /v1/alerts", h.billingAdmin(h.getAlerts))

	h.handle("POST /v1/sync-runs", h.billingAdmin(h.postRun))
	h.handle("GET /v1/sync-runs", h.billingAdmin(h.getRuns))
	h.handle("GET /v1/sync-runs/{id}", h.billingAdmin(h.getRun))
	h.handle("GET /v1/sync-runs/{id}/entries", h.billingAdmin(h.getRunEntries))

	// The document describing all of the above; public.
	h.handle("GET /v1/openapi.json", h.getOpenAPI)
}

// webhookRoutes registers the alert webhook, all the webhook Lambda serves.
func (h *Handler) webhookRoutes() {
	h.handle("POST /v1/webhooks/alerts", h.countRejects(h.platform(h.postAlert)))
}
