package httpapi

import (
	"net/http"
	"slices"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
)

type rulesResponse struct {
	// AlertTypes are the types a rule can be configured for.
	AlertTypes []alerting.Type `json:"alertTypes"`
	Rules      []ruleView      `json:"rules"`
}

func (h *Handler) getAlertRules(w http.ResponseWriter, r *http.Request) {
	rules, err := h.cfg.Store.AlertRules(r.Context(), tenantOf(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	views := make([]ruleView, len(rules))
	for i, rule := range rules {
		views[i] = ruleViewOf(rule)
	}
	writeJSON(w, http.StatusOK, rulesResponse{AlertTypes: alerting.KnownTypes, Rules: views})
}

// getAlertRule answers one alert type's rule; a type without a rule yet
// answers the rule it would have (off, version 0).
func (h *Handler) getAlertRule(w http.ResponseWriter, r *http.Request) {
	rule, version, err := h.alertRule(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, version, rule)
}

// alertRule is the representation of the path's alert type's rule (GET's
// body, PATCH's base). NotFound for an unknown type.
func (h *Handler) alertRule(r *http.Request) (any, int64, error) {
	t := alerting.Type(r.PathValue("alertType"))
	if !t.Known() {
		return nil, 0, apperr.New(apperr.NotFound, "unknown alert type %q", t)
	}
	rules, err := h.cfg.Store.AlertRules(r.Context(), tenantOf(r))
	if err != nil {
		return nil, 0, err
	}
	for _, rule := range rules {
		if rule.Type == t {
			return ruleViewOf(rule), rule.Version, nil
		}
	}
	return ruleViewOf(alerting.Rule{Type: t, MinSeverity: alerting.Info}), 0, nil
}

// ruleRequest is alerting.Rule as GET returns it; alertType, if given,
// must be the path's.
type ruleRequest struct {
	versioned
	AlertType        alerting.Type     `json:"alertType"`
	Enabled          bool              `json:"enabled"`
	PriorityID       int64             `json:"priorityId"`
	StatusID         int64             `json:"statusId"`
	SourceID         int64             `json:"sourceId"`
	QueueID          int64             `json:"queueId"`
	ResourceID       int64             `json:"resourceId"`
	RoleID           int64             `json:"roleId"`
	BoardID          int64             `json:"boardId"`
	CategoryID       int64             `json:"categoryId"`
	IssueTypeID      int64             `json:"issueTypeId"`
	DueDays          int               `json:"dueDays"`
	TitlePrefix      string            `json:"titlePrefix"`
	MinSeverity      alerting.Severity `json:"minSeverity"`
	CloseOnResolve   bool              `json:"closeOnResolve"`
	CompleteStatusID int64             `json:"completeStatusId"`
}

// putAlertRule stores the ticket rule of one alert type after checking
// every id against the PSA's ticket options.
func (h *Handler) putAlertRule(w http.ResponseWriter, r *http.Request) {
	t := alerting.Type(r.PathValue("alertType"))
	if !t.Known() {
		h.fail(w, r, apperr.New(apperr.NotFound, "unknown alert type %q", t))
		return
	}
	var req ruleRequest
	if err := readJSON(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.AlertType != "" && req.AlertType != t {
		h.fail(w, r, apperr.New(apperr.Invalid, "alertType %q is not the path's %q", req.AlertType, t))
		return
	}
	rule := alerting.Rule{Type: t, Enabled: req.Enabled, PriorityID: req.PriorityID, StatusID: req.StatusID, SourceID: req.SourceID,
		QueueID: req.QueueID, ResourceID: req.ResourceID, RoleID: req.RoleID, BoardID: req.BoardID, CategoryID: req.CategoryID,
		IssueTypeID: req.IssueTypeID, DueDays: req.DueDays, TitlePrefix: req.TitlePrefix, MinSeverity: req.MinSeverity,
		CloseOnResolve: req.CloseOnResolve, CompleteStatusID: req.CompleteStatusID}
	if err := rule.Validate(); err != nil {
		h.fail(w, r, err)
		return
	}
	if rule.SourceID < 0 || rule.BoardID < 0 || rule.CategoryID < 0 || rule.IssueTypeID < 0 || rule.CompleteStatusID < 0 {
		h.fail(w, r, apperr.New(apperr.Invalid, "ids must be positive"))
		return
	}
	version, err := expectedVersionOr(r, req.versioned, anyVersion)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tenant := tenantOf(r)
	opts, err := h.pickers.TicketOptions(r.Context(), tenant, func(in integration.Integration) error { return ruleShape(rule, in.Provider) })
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := ruleAgainst(rule, opts); err != nil {
		h.fail(w, r, err)
		return
	}
	saved, err := h.cfg.Store.PutAlertRule(r.Context(), tenant, rule, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeVersioned(w, http.StatusOK, saved.Version, ruleViewOf(saved))
}

// ruleShape checks the fields a provider uses. Invalid names the first
// field that does not apply. Autotask assigns a resource only together
// with a role, so a resource without one is refused here, not at ticket
// time.
func ruleShape(r alerting.Rule, p psa.Provider) error {
	type field struct {
		name string
		id   int64
	}
	var unused []field
	switch p {
	case psa.Autotask:
		if r.ResourceID > 0 && r.RoleID == 0 {
			return apperr.New(apperr.Invalid, "Autotask assigns a resource only with a role: set roleId with resourceId")
		}
		if r.RoleID > 0 && r.ResourceID == 0 {
			return apperr.New(apperr.Invalid, "roleId needs resourceId")
		}
		unused = []field{{"boardId", r.BoardID}}
	case psa.ConnectWise:
		unused = []field{{"queueId", r.QueueID}, {"resourceId", r.ResourceID}, {"roleId", r.RoleID}, {"categoryId", r.CategoryID}}
		if r.BoardID == 0 && (r.StatusID > 0 || r.IssueTypeID > 0 || r.CompleteStatusID > 0) {
			return apperr.New(apperr.Invalid, "ConnectWise statuses and types belong to a board: set boardId")
		}
	case psa.HaloPSA:
		// Halo: queueId is a team, issueTypeId a ticket type, resourceId an
		// agent (docs/HALOPSA.md §5.7); it has no sources, boards, roles or
		// ticket categories psabridge sets.
		unused = []field{{"sourceId", r.SourceID}, {"boardId", r.BoardID}, {"roleId", r.RoleID}, {"categoryId", r.CategoryID}}
	}
	for _, f := range unused {
		if f.id != 0 {
			return apperr.New(apperr.Invalid, "%s is not used by %s", f.name, p)
		}
	}
	return nil
}

// ruleAgainst checks every id of a rule against the PSA's ticket options.
// Rejected names the first id the PSA does not have.
func ruleAgainst(r alerting.Rule, o psa.TicketOptions) error {
	find := func(opts []psa.Option, id int64) (psa.Option, bool) {
		i := slices.IndexFunc(opts, func(x psa.Option) bool { return x.ID == id })
		if i < 0 {
			return psa.Option{}, false
		}
		return opts[i], true
	}
	for _, c := range []struct {
		name, what string
		id         int64
		opts       []psa.Option
	}{
		{"priorityId", "ticket priority", r.PriorityID, o.Priorities},
		{"statusId", "ticket status", r.StatusID, o.Statuses},
		{"sourceId", "ticket source", r.SourceID, o.Sources},
		{"queueId", "queue", r.QueueID, o.Queues},
		{"boardId", "board", r.BoardID, o.Boards},
		{"categoryId", "ticket category", r.CategoryID, o.Categories},
		{"issueTypeId", "issue type", r.IssueTypeID, o.IssueTypes},
		{"resourceId", "active resource", r.ResourceID, o.Resources},
		{"roleId", "active role", r.RoleID, o.Roles},
		{"completeStatusId", "ticket status", r.CompleteStatusID, o.Statuses},
	} {
		if c.id == 0 {
			continue
		}
		opt, ok := find(c.opts, c.id)
		if !ok {
			return apperr.New(apperr.Rejected, "%s %d is not a %s of your PSA", c.name, c.id, c.what)
		}
		// ConnectWise statuses and types belong to a board.
		if r.BoardID > 0 && opt.ParentID > 0 && (c.name == "statusId" || c.name == "completeStatusId" || c.name == "issueTypeId") && opt.ParentID != r.BoardID {
			return apperr.New(apperr.Rejected, "%s %d belongs to another board than %d", c.name, c.id, r.BoardID)
		}
	}
	if r.CloseOnResolve {
		if st, _ := find(o.Statuses, r.CompleteStatusID); !st.Closed {
			return apperr.New(apperr.Rejected, "completeStatusId %d is not a status that completes a ticket", r.CompleteStatusID)
		}
	}
	return nil
}
