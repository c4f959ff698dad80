package sandbox

import (
	"fmt"
	"strconv"
	"strings"
)

// The Halo resources of tickets, actions and their lookups.

func init() {
	for k, h := range map[string]haloHandler{
		"GET /Tickets":      haloTickets,
		"GET /Tickets/{id}": haloTicketByID,
		"POST /Tickets":     haloPostTickets,
		"GET /Actions":      haloActions,
		"POST /Actions":     haloPostActions,
		"GET /Status":       haloStatuses,
		"GET /Priority":     haloPriorities,
		"GET /TicketType":   haloTicketTypes,
		"GET /Team":         haloTeams,
		"GET /Team/{id}":    haloTeamByID,
		"GET /Agent":        haloAgents,
		"GET /Agent/me":     haloAgentMe,
		"GET /Outcome":      haloOutcomes,
	} {
		haloRoutes[k] = h
	}
}

func (in *haloInstance) status(id int64) (HaloStatus, bool) {
	for _, s := range in.seed.Statuses {
		if s.ID == id {
			return s, true
		}
	}
	return HaloStatus{}, false
}

func (in *haloInstance) ticketJSON(t *HaloTicket) map[string]any {
	var client string
	if c := in.clients[t.ClientID]; c != nil {
		client = c.Name
	}
	st, _ := in.status(t.StatusID)
	tt, _ := haloOptionName(in.seed.TicketTypes, t.TicketTypeID)
	j := map[string]any{"id": t.ID, "summary": t.Summary, "details": t.Details, "client_id": t.ClientID, "client_name": client,
		"status_id": t.StatusID, "status_name": st.Name, "priority_id": t.PriorityID, "tickettype_id": t.TicketTypeID,
		"tickettype_name": tt, "team": t.Team, "agent_id": t.AgentID, "deadlinedate": haloTime(t.DeadlineDate),
		"hasbeenclosed": t.Closed}
	for k := range haloTicketRefs {
		j[k] = t.Refs[k]
	}
	return j
}

// haloTickets lists tickets: client_id, status_id, open_only, closed_only,
// ticketids, search (summary, details or id), search_summary and the
// reference searches (search_supplier_reference), paging. Searches match
// a substring without case, as Halo's do: a caller looking for an exact
// reference compares the answers itself.
func haloTickets(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	client, byClient := r.q.Int("client_id")
	status, byStatus := r.q.Int("status_id")
	open, closed := r.q.Bool("open_only"), r.q.Bool("closed_only")
	ids, byIDs := haloIDList(&r.q, "ticketids")
	search, summary := r.q.Str("search"), r.q.Str("search_summary")
	refSearch := map[string]string{}
	for field, param := range haloTicketRefs {
		if v := r.q.Str(param); param != "" && v != "" {
			refSearch[field] = v
		}
	}
	var recs []*HaloTicket
	for _, t := range haloSorted(in.tickets, func(t *HaloTicket) int64 { return t.ID }, nil) {
		if (byClient && t.ClientID != client) || (byStatus && t.StatusID != status) || (open && t.Closed) ||
			(closed && !t.Closed) || (byIDs && !ids[t.ID]) || (summary != "" && !containsFold(t.Summary, summary)) ||
			(search != "" && !containsFold(t.Summary, search) && !containsFold(t.Details, search) && strconv.FormatInt(t.ID, 10) != search) {
			continue
		}
		match := true
		for field, v := range refSearch {
			match = match && containsFold(t.Refs[field], v)
		}
		if match {
			recs = append(recs, t)
		}
	}
	return haloList(&r.q, "tickets", recs, in.ticketJSON)
}

func haloTicketByID(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	t := in.tickets[r.id]
	if t == nil {
		return haloNotFound("Ticket", r.id)
	}
	return haloOK(in.ticketJSON(t))
}

// pickOption validates an id against a lookup; 0 picks the default (or the
// first active row).
func pickOption(opts []HaloOption, id int64, what string) (int64, *haloResp) {
	if id == 0 {
		var pick int64
		for _, o := range opts {
			if !o.Inactive && (o.Default || pick == 0) {
				pick = o.ID
			}
		}
		return pick, nil
	}
	for _, o := range opts {
		if o.ID == id && !o.Inactive {
			return id, nil
		}
	}
	b := haloBad("Please select a valid %s (%d does not exist).", what, id)
	return 0, &b
}

// stageTicket applies posted Faults fields to t (a copy), validating each.
// The client must exist (an inactive one still takes tickets, as on the
// other PSAs).
func (in *haloInstance) stageTicket(o *haloObj, t *HaloTicket, isNew bool) *haloResp {
	if o.has("client_id") || isNew {
		t.ClientID = o.Int("client_id")
		if in.clients[t.ClientID] == nil {
			b := haloBad("Please select a valid Client (client %d does not exist).", t.ClientID)
			return &b
		}
	}
	if o.has("summary") || isNew {
		t.Summary = strings.TrimSpace(o.Str("summary"))
		if t.Summary == "" {
			b := haloBad("Please enter a Summary.")
			return &b
		}
	}
	if o.has("details") {
		t.Details = o.Str("details")
	}
	var fail *haloResp
	if o.has("tickettype_id") || isNew {
		if t.TicketTypeID, fail = pickOption(in.seed.TicketTypes, o.Int("tickettype_id"), "Ticket Type"); fail != nil {
			return fail
		}
	}
	if o.has("priority_id") || isNew {
		if t.PriorityID, fail = pickOption(in.seed.Priorities, o.Int("priority_id"), "Priority"); fail != nil {
			return fail
		}
	}
	if o.has("status_id") || isNew {
		id := o.Int("status_id")
		if id == 0 && isNew {
			for _, s := range in.seed.Statuses {
				if !s.Closed && (s.Default || id == 0) {
					id = s.ID
				}
			}
		}
		st, ok := in.status(id)
		if !ok {
			b := haloBad("Please select a valid Status (%d does not exist).", id)
			return &b
		}
		t.StatusID, t.Closed = st.ID, st.Closed
	}
	if o.has("team") {
		t.Team = o.Str("team")
		if _, fail := pickOption(in.seed.Teams, teamID(in.seed.Teams, t.Team), "Team"); fail != nil && t.Team != "" {
			return fail
		}
	}
	if o.has("agent_id") {
		t.AgentID = o.Int("agent_id")
		if t.AgentID != 0 && !in.agentOK(t.AgentID) {
			b := haloBad("Please select a valid Agent (%d does not exist or is disabled).", t.AgentID)
			return &b
		}
	}
	if o.has("deadlinedate") {
		t.DeadlineDate = o.Time("deadlinedate")
	}
	for k := range haloTicketRefs {
		if o.has(k) {
			t.Refs[k] = o.Str(k)
		}
	}
	return o.badFields("Faults")
}

// teamID finds a team by name (-1 when there is none, so pickOption fails).
func teamID(teams []HaloOption, name string) int64 {
	for _, o := range teams {
		if strings.EqualFold(o.Name, name) {
			return o.ID
		}
	}
	return -1
}

func (in *haloInstance) agentOK(id int64) bool {
	for _, a := range in.seed.Agents {
		if a.ID == id {
			return !a.Disabled
		}
	}
	return false
}

// haloPostTickets creates tickets (a client and a summary required;
// type, priority and status default) or updates them (closing one is
// setting a closed status). All or nothing.
func haloPostTickets(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	objs, fail := haloDecodeArray(r.body, "Faults")
	if fail != nil {
		return *fail
	}
	type staged struct {
		t     HaloTicket
		isNew bool
	}
	var all []staged
	for i := range objs {
		o := &objs[i]
		st := staged{isNew: true, t: HaloTicket{Refs: map[string]string{}}}
		if id := o.Int("id"); id != 0 {
			cur := in.tickets[id]
			if cur == nil {
				return haloNotFound("Ticket", id)
			}
			st.t, st.isNew = *cur, false
			st.t.Refs = cloneRefs(cur.Refs)
		}
		if fail := in.stageTicket(o, &st.t, st.isNew); fail != nil {
			return *fail
		}
		all = append(all, st)
	}
	var out []map[string]any
	allNew := true
	for _, st := range all {
		t := st.t
		if st.isNew {
			t.ID = in.newID()
			in.created++
			in.logSystem(t.ID, HaloSystemLogged, "Ticket Logged", t.Details)
		} else {
			allNew = false
			if old := in.tickets[t.ID]; old.StatusID != t.StatusID {
				from, _ := in.status(old.StatusID)
				to, _ := in.status(t.StatusID)
				in.logSystem(t.ID, HaloSystemStatus, "Status Change", fmt.Sprintf("Status changed from %s to %s", from.Name, to.Name))
			}
		}
		in.tickets[t.ID] = &t
		out = append(out, in.ticketJSON(&t))
	}
	return haloAnswer(out, allNew)
}

func (in *haloInstance) outcome(id int64, name string) (HaloOutcome, bool) {
	for _, o := range in.seed.Outcomes {
		if (id != 0 && o.ID == id) || (id == 0 && name != "" && strings.EqualFold(o.Name, name)) {
			return o, true
		}
	}
	return HaloOutcome{}, false
}

// logSystem appends an action Halo logs itself.
func (in *haloInstance) logSystem(ticketID, systemID int64, outcome, note string) {
	in.actions = append(in.actions, &HaloAction{ID: in.newID(), TicketID: ticketID, Outcome: outcome, Note: note, SystemID: systemID})
}

func actionJSON(a *HaloAction) map[string]any {
	return map[string]any{"id": a.ID, "ticket_id": a.TicketID, "outcome": a.Outcome, "outcome_id": a.OutcomeID,
		"note": a.Note, "hiddenfromuser": a.HiddenFromUser, "new_status": a.NewStatus, "action_systemid": a.SystemID}
}

// haloActions lists the actions of a ticket (ticket_id required;
// unverified: Halo may answer every action without it), system actions
// too unless excludesys=true.
func haloActions(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	id, ok := r.q.Int("ticket_id")
	noSys := r.q.Bool("excludesys")
	if r.q.errs != nil {
		return haloProblem(r.q.errs)
	}
	if !ok {
		return haloBad("Please specify a ticket_id.")
	}
	var recs []*HaloAction
	for _, a := range in.actions {
		if a.TicketID == id && (a.SystemID == 0 || !noSys) {
			recs = append(recs, a)
		}
	}
	return haloList(&r.q, "actions", recs, actionJSON)
}

// haloPostActions adds actions (notes) to open tickets: an outcome (by
// outcome_id or name) and a note are required; new_status (or the
// outcome's status) changes the ticket's status, which closes it when the
// status is a closed one. All or nothing. Refusing actions on a closed
// ticket follows the agent permission "Can edit closed Tickets: No" that
// docs/LOCAL.md prescribes for psabridge's agent (unverified as Halo's
// exact answer).
func haloPostActions(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	objs, fail := haloDecodeArray(r.body, "Actions")
	if fail != nil {
		return *fail
	}
	var staged []HaloAction
	closing := map[int64]bool{}
	for i := range objs {
		o := &objs[i]
		if o.Int("id") != 0 {
			return haloBad("Existing actions cannot be changed through this sandbox.")
		}
		a := HaloAction{TicketID: o.Int("ticket_id"), Note: o.Str("note"), HiddenFromUser: o.Bool("hiddenfromuser")}
		if a.Note == "" {
			a.Note = o.Str("note_html")
		}
		oc, ok := in.outcome(o.Int("outcome_id"), o.Str("outcome"))
		newStatus := o.Int("new_status")
		if bad := o.badFields("Actions"); bad != nil {
			return *bad
		}
		t := in.tickets[a.TicketID]
		switch {
		case a.TicketID == 0:
			return haloBad("Please specify a ticket_id.")
		case t == nil:
			return haloNotFound("Ticket", a.TicketID)
		case t.Closed || closing[t.ID]:
			return haloBad("Ticket %d is closed: actions cannot be added to a closed ticket.", t.ID)
		case !ok:
			return haloBad("Please select a valid Outcome.")
		case strings.TrimSpace(a.Note) == "":
			return haloBad("Please enter a Note.")
		}
		a.OutcomeID, a.Outcome = oc.ID, oc.Name
		a.NewStatus = newStatus
		if a.NewStatus == 0 {
			a.NewStatus = oc.NewStatus
		}
		if a.NewStatus != 0 {
			st, ok := in.status(a.NewStatus)
			if !ok {
				return haloBad("Please select a valid Status (%d does not exist).", a.NewStatus)
			}
			closing[t.ID] = st.Closed
		}
		staged = append(staged, a)
	}
	var out []map[string]any
	for _, a := range staged {
		a.ID = in.newID()
		if a.NewStatus != 0 {
			st, _ := in.status(a.NewStatus)
			t := in.tickets[a.TicketID]
			t.StatusID, t.Closed = st.ID, st.Closed
		}
		in.actions = append(in.actions, &a)
		out = append(out, actionJSON(&a))
	}
	return haloAnswer(out, true)
}

// haloStatuses lists ticket statuses (a bare array); excludeclosed drops
// the closed ones, which is how a caller tells them apart.
func haloStatuses(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	excl := r.q.Bool("excludeclosed")
	if r.q.errs != nil {
		return haloProblem(r.q.errs)
	}
	out := []map[string]any{}
	for i, s := range in.seed.Statuses {
		if excl && s.Closed {
			continue
		}
		out = append(out, map[string]any{"id": s.ID, "name": s.Name, "shortname": s.Name, "sequence": i + 1, "colour": "#7e57c2"})
	}
	return haloOK(out)
}

// haloPriorities lists priorities (Policy rows, a bare array). A Policy's
// id is a string; the ticket's priority_id is its priorityid.
func haloPriorities(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	out := []map[string]any{}
	for _, p := range in.seed.Priorities {
		if p.Inactive {
			continue
		}
		out = append(out, map[string]any{"id": fmt.Sprintf("9b1d2c3e-0000-4000-8000-%012d", p.ID), "slaid": 1, "priorityid": p.ID, "name": p.Name, "ishidden": false})
	}
	return haloOK(out)
}

// optionRows renders active lookup rows (all with showAll).
func optionRows(opts []HaloOption, showAll bool, extra func(HaloOption, map[string]any)) []map[string]any {
	out := []map[string]any{}
	for _, o := range opts {
		if o.Inactive && !showAll {
			continue
		}
		j := map[string]any{"id": o.ID, "name": o.Name}
		if extra != nil {
			extra(o, j)
		}
		out = append(out, j)
	}
	return out
}

func haloTicketTypes(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	out := optionRows(in.seed.TicketTypes, r.q.Bool("showinactive"), func(o HaloOption, j map[string]any) {
		j["use"] = "ticket"
	})
	if r.q.errs != nil {
		return haloProblem(r.q.errs)
	}
	return haloOK(out)
}

func teamJSON(o HaloOption) map[string]any {
	return map[string]any{"id": o.ID, "name": o.Name, "inactive": o.Inactive, "forrequests": true}
}

// haloTeams lists teams (a bare array), disabled ones with
// includedisabled=true.
func haloTeams(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	out := []map[string]any{}
	for _, o := range in.seed.Teams {
		if !o.Inactive || strings.EqualFold(r.q.Str("includedisabled"), "true") {
			out = append(out, teamJSON(o))
		}
	}
	return haloOK(out)
}

func haloTeamByID(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	for _, o := range in.seed.Teams {
		if o.ID == r.id {
			return haloOK(teamJSON(o))
		}
	}
	return haloNotFound("Team", r.id)
}

func agentJSON(a HaloAgent) map[string]any {
	return map[string]any{"id": a.ID, "name": a.Name, "team": a.Team, "isdisabled": a.Disabled,
		"is_agent": true, "email": strings.ToLower(strings.ReplaceAll(a.Name, " ", ".")) + "@msp.example"}
}

// haloAgents lists agents (a bare array), disabled ones with
// includedisabled=true.
func haloAgents(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	all := strings.EqualFold(r.q.Str("includedisabled"), "true")
	out := []map[string]any{}
	for _, a := range in.seed.Agents {
		if !a.Disabled || all {
			out = append(out, agentJSON(a))
		}
	}
	return haloOK(out)
}

// haloAgentMe answers the agent the API application logs in as.
func haloAgentMe(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	for _, a := range in.seed.Agents {
		if a.ID == in.seed.APIAgentID {
			return haloOK(agentJSON(a))
		}
	}
	return haloOK(agentJSON(HaloAgent{ID: in.seed.APIAgentID, Name: "API User"}))
}

func haloOutcomes(h *HaloPSA, in *haloInstance, r *haloReq) haloResp {
	out := []map[string]any{}
	for i, o := range in.seed.Outcomes {
		out = append(out, map[string]any{"id": o.ID, "outcome": o.Name, "buttonname": o.Name, "hidden": o.Hidden,
			"newstatus": o.NewStatus, "sequence": i + 1})
	}
	return haloOK(out)
}
