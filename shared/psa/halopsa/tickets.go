package halopsa

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
)

// maxExternalKey bounds Faults.third_party_id_string, which the definition
// leaves unbounded: the longest key psabridge sends.
const maxExternalKey = 255

// noteOutcome is the outcome of the actions AddNote posts: Halo's default
// private-note outcome (docs/HALOPSA.md 5.7).
const noteOutcome = "Private Note"

// statusRow is the part of TStatus we read.
type statusRow struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// priorityRow is a Policy: a priority within an SLA. Its id is a uuid; the
// number tickets carry is priorityid.
type priorityRow struct {
	PriorityID int64  `json:"priorityid"`
	SLAID      int64  `json:"slaid"`
	Name       string `json:"name"`
	IsHidden   bool   `json:"ishidden"`
}

// TicketOptions lists ticket statuses (the closed one marked), priorities,
// ticket types (IssueTypes), teams (Queues) and agents (Resources): six
// requests. The closed status is the one GET /Status?type=ticket lists and
// the same with excludeclosed=true does not, rather than a hard-coded id.
func (c *Client) TicketOptions(ctx context.Context) (psa.TicketOptions, error) {
	var opts psa.TicketOptions
	statuses, _, err := list[statusRow](ctx, c, "Status", "statuses", url.Values{"type": {"ticket"}})
	if err != nil {
		return opts, err
	}
	open, _, err := list[statusRow](ctx, c, "Status", "statuses", url.Values{"type": {"ticket"}, "excludeclosed": {"true"}})
	if err != nil {
		return opts, err
	}
	notClosed := map[int64]bool{}
	for _, s := range open {
		notClosed[s.ID] = true
	}
	opts.Statuses = []psa.Option{}
	for _, s := range statuses {
		opts.Statuses = append(opts.Statuses, psa.Option{ID: s.ID, Name: s.Name, Closed: !notClosed[s.ID]})
	}
	prios, _, err := list[priorityRow](ctx, c, "Priority", "priorities", nil)
	if err != nil {
		return opts, err
	}
	seen := map[int64]bool{}
	opts.Priorities = []psa.Option{}
	for _, p := range prios {
		if p.PriorityID == 0 || p.IsHidden || seen[p.PriorityID] {
			continue
		}
		seen[p.PriorityID] = true
		opts.Priorities = append(opts.Priorities, psa.Option{ID: p.PriorityID, Name: p.Name})
	}
	for _, l := range []struct {
		path, key string
		q         url.Values
		dst       *[]psa.Option
	}{
		{"TicketType", "tickettypes", nil, &opts.IssueTypes},
		{"Team", "teams", url.Values{"type": {"reqs"}}, &opts.Queues},
		{"Agent", "agents", nil, &opts.Resources},
	} {
		rows, _, err := list[option](ctx, c, l.path, l.key, l.q)
		if err != nil {
			return opts, err
		}
		*l.dst = []psa.Option{}
		for _, r := range rows {
			if !r.Inactive && !r.IsDisabled {
				*l.dst = append(*l.dst, r.option())
			}
		}
	}
	opts.Sources = []psa.Option{}
	return opts, nil
}

// ticketRow is the part of Faults (a ticket) we read.
type ticketRow struct {
	ID          int64  `json:"id"`
	ClientID    int64  `json:"client_id"`
	Summary     string `json:"summary"`
	StatusID    int64  `json:"status_id"`
	ExternalKey string `json:"third_party_id_string"`
}

func faultsID(r ticketRow) int64 { return r.ID }

func (r ticketRow) ticket() psa.Ticket {
	return psa.Ticket{ID: r.ID, CompanyID: r.ClientID, Title: r.Summary, ExternalKey: r.ExternalKey, StatusID: r.StatusID}
}

// FindOpenTicket finds a client's open ticket whose third_party_id_string
// is externalKey; NotFound when there is none. Halo has no filter on the
// field, so it pages through the client's open tickets (one request while
// the client has at most 100) and stops at the first match.
func (c *Client) FindOpenTicket(ctx context.Context, companyID int64, externalKey string) (psa.Ticket, error) {
	if externalKey == "" || utf8.RuneCountInString(externalKey) > maxExternalKey {
		return psa.Ticket{}, apperr.New(apperr.Invalid, "the external key must be 1 to %d characters", maxExternalKey)
	}
	var found *ticketRow
	q := url.Values{"client_id": {strconv.FormatInt(companyID, 10)}, "open_only": {"true"}}
	err := pages(ctx, c, "Tickets", "tickets", q, func(rows []ticketRow, _ int, _ bool) bool {
		for i := range rows {
			if rows[i].ExternalKey == externalKey && rows[i].ClientID == companyID {
				found = &rows[i]
				return true
			}
		}
		return false
	})
	if err != nil {
		return psa.Ticket{}, err
	}
	if found == nil {
		return psa.Ticket{}, apperr.New(apperr.NotFound, "no open HaloPSA ticket has external key %q", externalKey)
	}
	return found.ticket(), nil
}

// ticketCreate is a Faults posted to /Tickets.
type ticketCreate struct {
	Summary      string `json:"summary"`
	Details      string `json:"details,omitempty"`
	ClientID     int64  `json:"client_id"`
	ExternalKey  string `json:"third_party_id_string,omitempty"`
	StatusID     int64  `json:"status_id,omitempty"`
	PriorityID   int64  `json:"priority_id,omitempty"`
	TicketTypeID int64  `json:"tickettype_id,omitempty"`
	Team         string `json:"team,omitempty"`
	AgentID      int64  `json:"agent_id,omitempty"`
	DeadlineDate string `json:"deadlinedate,omitempty"`
}

// CreateTicket opens a ticket (POST /Tickets): summary cut to the title
// limit, details, client, the external key in third_party_id_string, and
// the status, priority, ticket type, agent and deadline when given. A
// ticket's team is a name in Halo, so a queue id is looked up first
// (GET /Team/{id}); Invalid when the team does not exist. Not retried after
// a failure that may have created it: look the key up before trying again.
func (c *Client) CreateTicket(ctx context.Context, s psa.TicketSpec) (psa.Ticket, error) {
	if s.CompanyID <= 0 || strings.TrimSpace(s.Title) == "" {
		return psa.Ticket{}, apperr.New(apperr.Invalid, "a ticket needs a client and a title")
	}
	if utf8.RuneCountInString(s.ExternalKey) > maxExternalKey {
		return psa.Ticket{}, apperr.New(apperr.Invalid, "the external key must be at most %d characters", maxExternalKey)
	}
	body := ticketCreate{Summary: psa.Truncate(s.Title, psa.HaloPSA.TitleLimit()), Details: s.Description, ClientID: s.CompanyID,
		ExternalKey: s.ExternalKey, StatusID: s.StatusID, PriorityID: s.PriorityID, TicketTypeID: s.IssueTypeID, AgentID: s.ResourceID}
	if s.QueueID != 0 {
		team, err := get(ctx, c, "Team/"+strconv.FormatInt(s.QueueID, 10), nil, func(o option) int64 { return o.ID })
		if apperr.Is(err, apperr.NotFound) {
			return psa.Ticket{}, relabel(err, apperr.Invalid, "HaloPSA has no team "+strconv.FormatInt(s.QueueID, 10))
		}
		if err != nil {
			return psa.Ticket{}, err
		}
		body.Team = team.Name
	}
	if !s.Due.IsZero() {
		body.DeadlineDate = s.Due.UTC().Format("2006-01-02T15:04:05Z")
	}
	var r ticketRow
	if err := post(ctx, c, "Tickets", body, false, &r); err != nil {
		return psa.Ticket{}, err
	}
	if r.ID <= 0 {
		return psa.Ticket{}, apperr.New(apperr.Rejected, "HaloPSA's answer to the new ticket does not hold it")
	}
	return r.ticket(), nil
}

// actionCreate is an Actions row posted to /Actions.
type actionCreate struct {
	TicketID       int64  `json:"ticket_id"`
	Outcome        string `json:"outcome"`
	Note           string `json:"note"`
	HiddenFromUser bool   `json:"hiddenfromuser"`
	SendEmail      bool   `json:"sendemail"`
}

// AddNote adds a private note: an action with the "Private Note" outcome,
// hidden from the end user, sending no email; the title, when set, heads
// the text. Not retried after a failure that may have added it.
func (c *Client) AddNote(ctx context.Context, ticketID int64, n psa.Note) error {
	text := n.Text
	if n.Title != "" {
		text = n.Title + "\n\n" + n.Text
	}
	if strings.TrimSpace(text) == "" {
		return apperr.New(apperr.Invalid, "a note needs text")
	}
	if ticketID <= 0 {
		return apperr.New(apperr.Invalid, "a note needs a ticket")
	}
	return post(ctx, c, "Actions", actionCreate{TicketID: ticketID, Outcome: noteOutcome, Note: text, HiddenFromUser: true}, false, nil)
}

// actionRow is the part of Actions we read.
type actionRow struct {
	ID       int64  `json:"id"`
	TicketID int64  `json:"ticket_id"`
	Note     string `json:"note"`
	NoteHTML string `json:"note_html"`
}

// HasNote looks for an action of the ticket whose note contains marker
// (GET /Actions?ticket_id=…&excludesys=true). A ticket without such
// actions is read too (GET /Tickets/{id}), to tell NotFound when it is
// gone.
func (c *Client) HasNote(ctx context.Context, ticketID int64, marker string) (bool, error) {
	if marker == "" {
		return false, apperr.New(apperr.Invalid, "a note marker is needed")
	}
	rows, _, err := list[actionRow](ctx, c, "Actions", "actions",
		url.Values{"ticket_id": {strconv.FormatInt(ticketID, 10)}, "excludesys": {"true"}})
	if err != nil {
		return false, err
	}
	for _, a := range rows {
		if a.TicketID == ticketID && (strings.Contains(a.Note, marker) || strings.Contains(a.NoteHTML, marker)) {
			return true, nil
		}
	}
	if len(rows) == 0 {
		if _, err := get(ctx, c, "Tickets/"+strconv.FormatInt(ticketID, 10), nil, faultsID); err != nil {
			return false, err
		}
	}
	return false, nil
}

// ticketStatus is the update CloseTicket posts.
type ticketStatus struct {
	ID       int64 `json:"id"`
	StatusID int64 `json:"status_id"`
}

// CloseTicket sets the ticket's status (POST /Tickets with its id and
// status_id). Idempotent. An instance whose closure needs more (a
// mandatory field) answers 400 with its reason, which is Rejected.
func (c *Client) CloseTicket(ctx context.Context, ticketID int64, statusID int64) error {
	if statusID == 0 || ticketID <= 0 {
		return apperr.New(apperr.Invalid, "closing a ticket needs the ticket and a status")
	}
	return post(ctx, c, "Tickets", ticketStatus{ID: ticketID, StatusID: statusID}, true, nil)
}
