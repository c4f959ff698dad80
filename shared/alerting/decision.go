package alerting

import "time"

// State is where an alert occurrence is in psabridge's processing.
type State string

// The processing states.
const (
	// Queued: stored and handed to the ticket worker.
	Queued State = "queued"
	// Done: the decision was carried out in the PSA.
	Done State = "done"
	// Skipped: nothing to do; Reason says why.
	Skipped State = "skipped"
	// Failed: the PSA refused; Error says why (not retried).
	Failed State = "failed"
)

// Valid reports whether s is a processing state.
func (s State) Valid() bool { return s == Queued || s == Done || s == Skipped || s == Failed }

// Decision is what the ticket worker does with an alert occurrence.
type Decision string

// The decisions.
const (
	Pending     Decision = "pending" // not decided yet
	OpenTicket  Decision = "open"
	NoteTicket  Decision = "note"
	CloseTicket Decision = "close"
	Skip        Decision = "skip"
)

// Reason explains a skip.
type Reason string

// The skip reasons.
const (
	ReasonUnknownType      Reason = "unknown_type"
	ReasonNoIntegration    Reason = "no_integration"
	ReasonTicketingOff     Reason = "ticketing_off"
	ReasonRuleOff          Reason = "rule_off"
	ReasonOrgUnmapped      Reason = "org_unmapped"
	ReasonBelowMinSeverity Reason = "below_min_severity"
	ReasonNoOpenTicket     Reason = "no_open_ticket"
	ReasonAlreadyResolved  Reason = "already_resolved"
)

// Record is a stored alert occurrence with the outcome of its processing.
type Record struct {
	Alert
	State    State    `json:"state"`
	Decision Decision `json:"decision"`
	Reason   Reason   `json:"reason,omitempty"`
	TicketID int64    `json:"ticketId,omitempty"`
	// Error is the PSA's refusal (code and the vendor's words), safe to
	// show the tenant's admin.
	Error      string    `json:"error,omitempty"`
	ReceivedAt time.Time `json:"receivedAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	// Enqueued is true once the webhook handed the occurrence to the
	// ticket queue. A replay of a Queued occurrence that is not Enqueued
	// (the first delivery failed or timed out after storing it) is queued
	// again, so no accepted alert is lost.
	Enqueued bool `json:"-"`
}

// NewRecord is the record the webhook stores for a fresh alert: queued for
// the worker, or skipped at once when its type can never be ticketed.
func NewRecord(a Alert, now time.Time) Record {
	r := Record{Alert: a, State: Queued, Decision: Pending, ReceivedAt: now.UTC(), UpdatedAt: now.UTC()}
	if !a.Ticketable() {
		r.State, r.Decision, r.Reason = Skipped, Skip, ReasonUnknownType
	}
	return r
}

// Stream is what psabridge knows about an alert stream (all occurrences of
// one alert id): its ticket and whether the alert resolved.
type Stream struct {
	AlertID  string `json:"alertId"`
	TicketID int64  `json:"ticketId,omitempty"`
	// TicketOpen is true while psabridge has not closed TicketID.
	TicketOpen bool `json:"ticketOpen"`
	// ResolvedAt is the OccurredAt of the resolution, zero while open.
	ResolvedAt time.Time `json:"resolvedAt,omitzero"`
	Version    int64     `json:"version"`
}

// Facts are what the decision depends on besides the alert.
type Facts struct {
	// Integrated is false when the tenant has no PSA integration.
	Integrated bool
	// TicketingEnabled is the tenant's master switch.
	TicketingEnabled bool
	// Rule is the tenant's rule for the alert's type; nil when none.
	Rule *Rule
	// CompanyID is the PSA company of the org's active mapping; 0 when the
	// org is unmapped or its mapping is disabled.
	CompanyID int64
	Stream    Stream
}

// Plan is a decision with what it needs.
type Plan struct {
	Decision Decision
	Reason   Reason
	// TicketID is the stream's ticket for a note or a close; 0 for a close
	// means the ticket is not known and must be looked up by external key.
	TicketID int64
	// StatusID is the completing status of a close.
	StatusID int64
}

// Decide chooses skip, open, note or close for an alert occurrence. It is
// the whole ticket policy and has no side effects:
//   - skip when the type is unknown, no PSA is connected, ticketing is off,
//     the type's rule is missing or off, or the org is unmapped;
//   - an open occurrence older than the stream's resolution is skipped (it
//     arrived late); one whose stream has an open ticket is noted on it;
//     otherwise one below the rule's minSeverity is skipped, and the rest
//     open a ticket (the worker looks the external key up first);
//   - a resolution closes the stream's ticket with the rule's complete
//     status when closeOnResolve is on, and notes it otherwise.
func Decide(a Alert, f Facts) Plan {
	skip := func(r Reason) Plan { return Plan{Decision: Skip, Reason: r} }
	switch {
	case !a.Type.Known():
		return skip(ReasonUnknownType)
	case !f.Integrated:
		return skip(ReasonNoIntegration)
	case !f.TicketingEnabled:
		return skip(ReasonTicketingOff)
	case f.Rule == nil || !f.Rule.Enabled:
		return skip(ReasonRuleOff)
	case f.CompanyID <= 0:
		return skip(ReasonOrgUnmapped)
	}
	s := f.Stream
	if a.Status == Resolved {
		switch {
		case s.TicketID != 0 && !s.TicketOpen:
			return skip(ReasonNoOpenTicket)
		case f.Rule.CloseOnResolve:
			return Plan{Decision: CloseTicket, TicketID: s.TicketID, StatusID: f.Rule.CompleteStatusID}
		case s.TicketID != 0:
			return Plan{Decision: NoteTicket, TicketID: s.TicketID}
		default:
			return skip(ReasonNoOpenTicket)
		}
	}
	switch {
	case !s.ResolvedAt.IsZero() && !a.OccurredAt.After(s.ResolvedAt):
		return skip(ReasonAlreadyResolved)
	case s.TicketID != 0 && s.TicketOpen:
		return Plan{Decision: NoteTicket, TicketID: s.TicketID}
	case !a.Severity.AtLeast(f.Rule.MinSeverity):
		return skip(ReasonBelowMinSeverity)
	default:
		return Plan{Decision: OpenTicket}
	}
}

// Apply returns the stream after an occurrence was carried out with plan,
// ticketID being the ticket acted on (0 when none).
func (s Stream) Apply(a Alert, p Plan, ticketID int64) Stream {
	s.AlertID = a.ID
	switch p.Decision {
	case OpenTicket:
		if ticketID != 0 {
			s.TicketID, s.TicketOpen = ticketID, true
		}
		// A repeat after a resolution reopens the stream.
		if a.OccurredAt.After(s.ResolvedAt) {
			s.ResolvedAt = time.Time{}
		}
	case CloseTicket:
		if ticketID != 0 {
			s.TicketID = ticketID
		}
		s.TicketOpen = false
	}
	if a.Status == Resolved && a.OccurredAt.After(s.ResolvedAt) {
		s.ResolvedAt = a.OccurredAt
	}
	return s
}

// Filter narrows an alert listing; empty fields match everything.
type Filter struct {
	Org   string
	State State
}
