package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/apiclient"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

// AlertOccurrence is one occurrence of the demo alert as GET /v1/alerts
// shows it.
type AlertOccurrence struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Severity   string    `json:"severity"`
	Org        string    `json:"org"`
	Status     string    `json:"status"`
	State      string    `json:"state"`
	Decision   string    `json:"decision"`
	Reason     string    `json:"reason,omitempty"`
	TicketID   int64     `json:"ticketId,omitempty"`
	Error      string    `json:"error,omitempty"`
	OccurredAt time.Time `json:"occurredAt"`
}

// AlertResult is what became of the demo alert stream.
type AlertResult struct {
	Tenant   string
	Provider string
	// Occurrences are oldest first: open, repeat, resolved.
	Occurrences []AlertOccurrence
	// TicketID is the PSA ticket of the stream (0 when none).
	TicketID int64
}

// alertSteps are the demo stream: the alert opens, fires again, resolves.
var alertSteps = []struct {
	status string
	ago    time.Duration
	what   string
}{
	{"open", 10 * time.Minute, "open"},
	{"open", 5 * time.Minute, "open again"},
	{"resolved", 0, "resolved"},
}

// runAlert posts the plan's alert as the platform would (signed webhook):
// open, the same alert again, resolved; then waits until the ticket worker
// has decided every occurrence and reads them back from GET /v1/alerts.
func (d *Demo) runAlert(ctx context.Context, c *Client, pt PlanTenant, tr TenantResult) (AlertResult, error) {
	a := pt.Alert
	res := AlertResult{Tenant: pt.ID, Provider: tr.Provider}
	now := d.Stack.now()
	for _, st := range alertSteps {
		title, details := a.Title, a.Details
		body, _ := json.Marshal(apiclient.AlertWebhook{
			Id: a.ID, Type: a.Type, Severity: apiclient.AlertWebhookSeverity(a.Severity), Org: a.Org, Status: apiclient.AlertWebhookStatus(st.status),
			OccurredAt: now.Add(-st.ago).UTC().Truncate(time.Second), Title: &title, Details: &details,
		})
		if err := c.Signed(ctx, http.MethodPost, "/v1/webhooks/alerts", pt.ID, tr.SigningSecret, body, nil); err != nil {
			return res, err
		}
		d.printf("  %-17s signed webhook: %s %s (%s) — accepted\n", pt.ID, a.ID, st.what, a.Type)
	}
	api, err := c.API(tr.AdminToken)
	if err != nil {
		return res, err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := api.ListAlertsWithResponse(ctx, &apiclient.ListAlertsParams{Org: &a.Org})
		if err != nil {
			return res, err
		}
		var page struct {
			Alerts []AlertOccurrence `json:"alerts"`
		}
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			return res, fmt.Errorf("alerts of %s: %w", a.Org, err)
		}
		res.Occurrences = res.Occurrences[:0]
		pending := 0
		for i := len(page.Alerts) - 1; i >= 0; i-- { // newest first → oldest first
			o := page.Alerts[i]
			if o.ID != a.ID {
				continue
			}
			res.Occurrences = append(res.Occurrences, o)
			if o.State == "queued" {
				pending++
			}
			if o.TicketID != 0 {
				res.TicketID = o.TicketID
			}
		}
		if len(res.Occurrences) >= len(alertSteps) && pending == 0 {
			return res, nil
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("alert %s: %d of %d occurrences still queued after 2 minutes", a.ID, pending, len(alertSteps))
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PrintAlert prints the alert stream's decisions and the resulting ticket
// as the PSA sandbox holds it.
func PrintAlert(w io.Writer, s *Stack, pt PlanTenant, r AlertResult) {
	fmt.Fprintf(w, "\nAlert %s (%s, %s) on %s → ticket in %s\n", pt.Alert.ID, pt.Alert.Type, pt.Alert.Severity, pt.Alert.Org, r.Provider)
	for _, o := range r.Occurrences {
		extra := ""
		if o.TicketID != 0 {
			extra = fmt.Sprintf(" ticket %d", o.TicketID)
		}
		if o.Reason != "" {
			extra += " (" + o.Reason + ")"
		}
		if o.Error != "" {
			extra += " error: " + o.Error
		}
		fmt.Fprintf(w, "  %s  %-8s → %-6s %s%s\n", o.OccurredAt.UTC().Format("15:04:05Z"), o.Status, o.Decision, o.State, extra)
	}
	if r.TicketID == 0 {
		fmt.Fprintf(w, "  no ticket\n")
		return
	}
	switch r.Provider {
	case "autotask":
		printAutotaskTicket(w, s, pt, r.TicketID)
	case "connectwise":
		printConnectWiseTicket(w, s, pt, r.TicketID)
	case "halopsa":
		printHaloTicket(w, s, pt, r.TicketID)
	}
}

func printHaloTicket(w io.Writer, s *Stack, pt PlanTenant, id int64) {
	app, _ := pt.Integration["clientId"].(string)
	t, ok := s.Sandbox.HaloPSA.Ticket(app, id)
	if !ok {
		fmt.Fprintf(w, "  ticket %d not found in the sandbox\n", id)
		return
	}
	seed := haloSeed(s.Seed, app)
	status := fmt.Sprint(t.StatusID)
	for _, st := range seed.Statuses {
		if st.ID == t.StatusID {
			status = fmt.Sprintf("%s (%d)", st.Name, st.ID)
		}
	}
	fmt.Fprintf(w, "  HaloPSA ticket %d  %q\n", t.ID, t.Summary)
	fmt.Fprintf(w, "    client %s · status %s · priority %s · team %s · ticket type %s · closed %v\n",
		companyName(s.Seed, t.ClientID), status, haloLabel(seed.Priorities, t.PriorityID), t.Team, haloLabel(seed.TicketTypes, t.TicketTypeID), t.Closed)
	fmt.Fprintf(w, "    agent %d · deadline %s · third_party_id_string %s\n", t.AgentID, t.DeadlineDate.UTC().Format(time.RFC3339), t.Refs["third_party_id_string"])
	for _, a := range s.Sandbox.HaloPSA.Actions(app) {
		if a.TicketID == id {
			fmt.Fprintf(w, "    action %d (%s): %s\n", a.ID, a.Outcome, firstLine(a.Note))
		}
	}
}

func haloSeed(seed sandbox.Seed, app string) sandbox.HaloPSASeed {
	for _, h := range seed.HaloPSA {
		if h.ClientID == app {
			return h
		}
	}
	return sandbox.HaloPSASeed{}
}

// haloLabel renders a Halo lookup id as "name (id)".
func haloLabel(opts []sandbox.HaloOption, id int64) string {
	for _, o := range opts {
		if o.ID == id {
			return fmt.Sprintf("%s (%d)", o.Name, id)
		}
	}
	return fmt.Sprint(id)
}

func printAutotaskTicket(w io.Writer, s *Stack, pt PlanTenant, id int64) {
	user, _ := pt.Integration["username"].(string)
	t, ok := s.Sandbox.Autotask.Ticket(user, id)
	if !ok {
		fmt.Fprintf(w, "  ticket %d not found in the sandbox\n", id)
		return
	}
	seed := autotaskSeed(s.Seed, user)
	label := func(field string, v int64) string { return autotaskLabel(seed, "Tickets", field, v) }
	fmt.Fprintf(w, "  Autotask ticket %d  %q\n", t.ID, t.Title)
	fmt.Fprintf(w, "    company %s · status %s · priority %s · queue %s\n",
		companyName(s.Seed, t.CompanyID), label("status", t.Status), label("priority", t.Priority), label("queueID", t.QueueID))
	fmt.Fprintf(w, "    assigned resource %d (role %d) · due %s · externalID %s\n", t.AssignedResourceID, t.AssignedResourceRoleID, t.DueDateTime, t.ExternalID)
	for _, n := range s.Sandbox.Autotask.Notes(user) {
		if n.TicketID == id {
			fmt.Fprintf(w, "    note %d: %s — %s\n", n.ID, n.Title, firstLine(n.Description))
		}
	}
}

func printConnectWiseTicket(w io.Writer, s *Stack, pt PlanTenant, id int64) {
	company, _ := pt.Integration["companyId"].(string)
	for _, t := range s.Sandbox.ConnectWise.Tickets(company) {
		if t.ID != id {
			continue
		}
		fmt.Fprintf(w, "  ConnectWise ticket %d  %q\n", t.ID, t.Summary)
		fmt.Fprintf(w, "    company %s · board %d · status %d · priority %d · closed %v · required %s · externalXRef %s\n",
			companyName(s.Seed, t.CompanyID), t.BoardID, t.StatusID, t.PriorityID, t.Closed, t.RequiredDate.UTC().Format(time.RFC3339), t.ExternalXRef)
		for _, n := range s.Sandbox.ConnectWise.Notes(company) {
			if n.TicketID == id {
				fmt.Fprintf(w, "    note %d: %s\n", n.ID, firstLine(n.Text))
			}
		}
		return
	}
	fmt.Fprintf(w, "  ticket %d not found in the sandbox\n", id)
}

func autotaskSeed(seed sandbox.Seed, user string) sandbox.AutotaskSeed {
	for _, a := range seed.Autotask {
		if strings.EqualFold(a.Username, user) {
			return a
		}
	}
	return sandbox.AutotaskSeed{}
}

// autotaskLabel renders a picklist value as "label (id)".
func autotaskLabel(seed sandbox.AutotaskSeed, entity, field string, v int64) string {
	for _, p := range seed.Picklists {
		if p.Entity == entity && p.Field == field {
			for _, x := range p.Values {
				if x.Value == v {
					return fmt.Sprintf("%s (%d)", x.Label, v)
				}
			}
		}
	}
	return fmt.Sprint(v)
}

// companyName renders a PSA company id with its name from the seed.
func companyName(seed sandbox.Seed, id int64) string {
	for _, a := range seed.Autotask {
		for _, c := range a.Companies {
			if c.ID == id {
				return fmt.Sprintf("%s (%d)", c.Name, id)
			}
		}
	}
	for _, cw := range seed.ConnectWise {
		for _, c := range cw.Companies {
			if c.ID == id {
				return fmt.Sprintf("%s (%d)", c.Name, id)
			}
		}
	}
	for _, h := range seed.HaloPSA {
		for _, c := range h.Clients {
			if c.ID == id {
				return fmt.Sprintf("%s (%d)", c.Name, id)
			}
		}
	}
	return fmt.Sprint(id)
}

// firstLine is the first line of s, trimmed, cut to 90 runes for a
// one-line listing.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return psa.Truncate(s, 90)
}
