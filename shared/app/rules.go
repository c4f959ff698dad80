package app

import (
	"context"
	"slices"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/integration"
	"github.com/psabridge/psabridge/shared/psa"
)

// RuleStore reads and writes the tenant's alert ticket rules
// (*dynamo.Store).
type RuleStore interface {
	// AlertRules lists the tenant's stored rules.
	AlertRules(ctx context.Context, tenant string) ([]alerting.Rule, error)
	// PutAlertRule stores r if its stored version is still ifVersion
	// (AnyVersion: whatever it is); PreconditionFailed otherwise.
	PutAlertRule(ctx context.Context, tenant string, r alerting.Rule, ifVersion int64) (alerting.Rule, error)
}

// Rules keeps the tenant's ticket rules, one per alert type.
type Rules struct {
	Store   RuleStore
	Pickers *Pickers
}

// List lists the tenant's stored rules. The store's errors.
func (s *Rules) List(ctx context.Context, tenant string) ([]alerting.Rule, error) {
	return s.Store.AlertRules(ctx, tenant)
}

// Rule is the rule of alert type t; a type without a rule yet has the rule
// it would have (off, version 0). NotFound for an unknown type; the
// store's errors.
func (s *Rules) Rule(ctx context.Context, tenant string, t alerting.Type) (alerting.Rule, error) {
	if !t.Known() {
		return alerting.Rule{}, apperr.New(apperr.NotFound, "unknown alert type %q", t)
	}
	rules, err := s.Store.AlertRules(ctx, tenant)
	if err != nil {
		return alerting.Rule{}, err
	}
	for _, rule := range rules {
		if rule.Type == t {
			return rule, nil
		}
	}
	return alerting.Rule{Type: t, MinSeverity: alerting.Info}, nil
}

// Put stores the ticket rule of one alert type if its stored version is
// still ifVersion (AnyVersion: whatever it is), after checking its shape,
// its fit to the connected PSA (ruleShape, before the PSA is asked) and
// every id against the PSA's ticket options (ruleAgainst).
//
// Errors: Invalid for a malformed rule or one that does not fit the PSA;
// NotFound without an integration; Rejected naming the first id the PSA
// does not have; PreconditionFailed on a stale version; Transient; the
// store's.
func (s *Rules) Put(ctx context.Context, tenant string, rule alerting.Rule, ifVersion int64) (alerting.Rule, error) {
	if err := rule.Validate(); err != nil {
		return alerting.Rule{}, err
	}
	if rule.SourceID < 0 || rule.BoardID < 0 || rule.CategoryID < 0 || rule.IssueTypeID < 0 || rule.CompleteStatusID < 0 {
		return alerting.Rule{}, apperr.New(apperr.Invalid, "ids must be positive")
	}
	opts, err := s.Pickers.TicketOptions(ctx, tenant, func(in integration.Integration) error { return ruleShape(rule, in.Provider) })
	if err != nil {
		return alerting.Rule{}, err
	}
	if err := ruleAgainst(rule, opts); err != nil {
		return alerting.Rule{}, err
	}
	return s.Store.PutAlertRule(ctx, tenant, rule, ifVersion)
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
