package autotask

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

func TestNew(t *testing.T) {
	for name, cfg := range map[string]Config{
		"ErrNoSecret":   {Credentials: psa.Credentials{Username: "u", IntegrationCode: "c"}},
		"ErrNoCode":     {Credentials: psa.Credentials{Username: "u", Secret: "s"}},
		"ErrBadZoneURL": {Credentials: psa.Credentials{Username: "u", Secret: "s", IntegrationCode: "c"}, Endpoints: psa.Endpoints{AutotaskZoneURL: "ftp://x/"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(cfg)
			if got := apperr.CodeOf(err); got != apperr.Invalid {
				t.Fatalf("got %v, want invalid", err)
			}
		})
	}
	t.Run("DefaultZone", func(t *testing.T) {
		c, err := New(Config{Credentials: psa.Credentials{Username: "u", Secret: "s", IntegrationCode: "c"}})
		MustNoErr(t, "New", err)
		if c.zoneURL != DefaultZoneURL {
			t.Fatalf("got %q, want %q", c.zoneURL, DefaultZoneURL)
		}
	})
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		f := MustFixture(t, baseSeed(), time.Second)
		MustNoErr(t, "Verify", f.client.Verify(ctx))
		if got := f.sb.Counts()["autotask GET ThresholdInformation"]; got != 1 {
			t.Fatalf("got %d ThresholdInformation calls, want 1", got)
		}
	})
	t.Run("ErrWrongSecret", func(t *testing.T) {
		seed := baseSeed()
		seed.Secret = "other"
		f := MustFixture(t, seed, time.Second)
		err := f.client.Verify(ctx)
		if got := apperr.CodeOf(err); got != apperr.Unauthorized {
			t.Fatalf("got %v, want unauthorized", err)
		}
		// One zone lookup: a 401 right after discovery is not retried.
		if got := f.sb.Counts()["autotask GET zoneInformation"]; got != 1 {
			t.Fatalf("got %d zone lookups, want 1", got)
		}
	})
	t.Run("ErrUnknownUser", func(t *testing.T) {
		seed := baseSeed()
		seed.Username = "someone@else.example"
		f := MustFixture(t, seed, time.Second)
		if got := apperr.CodeOf(f.client.Verify(ctx)); got != apperr.Unauthorized {
			t.Fatalf("got %v, want unauthorized", got)
		}
	})
}

func TestCompaniesPaging(t *testing.T) {
	seed := baseSeed()
	for i := range 1200 {
		seed.Companies = append(seed.Companies, sandbox.AutotaskCompany{Name: fmt.Sprintf("Company %04d", i), Type: 1})
	}
	seed.Companies = append(seed.Companies, sandbox.AutotaskCompany{Name: "Gone Ltd", Type: 1, Inactive: true},
		sandbox.AutotaskCompany{Name: "Vendor Inc", Type: 7})
	f := MustFixture(t, seed, time.Second)
	got, err := f.client.Companies(context.Background(), psa.CompanyFilter{TypeIDs: []int64{1}})
	MustNoErr(t, "Companies", err)
	if len(got) != 1200 {
		t.Fatalf("got %d companies, want 1200", len(got))
	}
	ids := map[int64]bool{}
	for _, c := range got {
		ids[c.ID] = true
		if !c.Active || !slices.Equal(c.TypeIDs, []int64{1}) {
			t.Fatalf("got %+v, want an active customer", c)
		}
	}
	if len(ids) != 1200 {
		t.Fatalf("got %d distinct ids, want 1200", len(ids))
	}
	counts := f.sb.Counts()
	if first, next := counts["autotask POST Companies/query"], counts["autotask POST Companies/query/next"]; first != 1 || next != 2 {
		t.Fatalf("got %d first pages and %d next pages, want 1 and 2 (three pages)", first, next)
	}

	t.Run("NameContains", func(t *testing.T) {
		got, err := f.client.Companies(context.Background(), psa.CompanyFilter{NameContains: "company 011"})
		MustNoErr(t, "Companies", err)
		if len(got) != 10 {
			t.Fatalf("got %d companies, want 10 (Company 0110–0119)", len(got))
		}
	})
}

// customPicklists are picklist ids unlike the usual system ones.
func customPicklists() []sandbox.AutotaskPicklist {
	v := func(id int64, label string, def bool) sandbox.AutotaskPicklistValue {
		return sandbox.AutotaskPicklistValue{Value: id, Label: label, IsDefault: def}
	}
	return []sandbox.AutotaskPicklist{
		{Entity: "Companies", Field: "companyType", Values: []sandbox.AutotaskPicklistValue{v(101, "Customer", true), v(103, "Prospect", false), v(107, "Vendor", false)}},
		{Entity: "Contracts", Field: "contractType", Values: []sandbox.AutotaskPicklistValue{v(21, "Time and Materials", false), v(27, "Recurring Service", true)}},
		{Entity: "Contracts", Field: "status", Values: []sandbox.AutotaskPicklistValue{v(30, "Inactive", false), v(31, "Active", true)}},
		{Entity: "Tickets", Field: "status", Values: []sandbox.AutotaskPicklistValue{v(11, "New", true), v(15, "Complete", false), v(18, "In Progress", false)}},
		{Entity: "Tickets", Field: "priority", Values: []sandbox.AutotaskPicklistValue{v(41, "High", false), v(42, "Medium", true)}},
		{Entity: "Tickets", Field: "queueID", Values: []sandbox.AutotaskPicklistValue{v(29683482, "Monitoring Alert", true)}},
		{Entity: "TicketNotes", Field: "noteType", Values: []sandbox.AutotaskPicklistValue{v(61, "Task Detail", true)}},
		{Entity: "TicketNotes", Field: "publish", Values: []sandbox.AutotaskPicklistValue{v(71, "All Autotask Users", true)}},
	}
}

func TestCustomPicklistIDs(t *testing.T) {
	ctx := context.Background()
	seed := ticketSeed(baseSeed())
	seed.Picklists = customPicklists()
	seed.Companies = []sandbox.AutotaskCompany{{ID: 500, Name: "Acme", Type: 101}, {ID: 501, Name: "Supplier", Type: 107}}
	seed.Contracts = []sandbox.AutotaskContract{{ID: 700, CompanyID: 500, Name: "Managed", Type: 27, Status: 31},
		{ID: 701, CompanyID: 500, Name: "Hourly", Type: 21, Status: 31}, {ID: 702, CompanyID: 500, Name: "Old", Type: 27, Status: 30}}
	f := MustFixture(t, seed, time.Second)

	t.Run("CompanyTypes", func(t *testing.T) {
		got, err := f.client.CompanyTypes(ctx)
		MustNoErr(t, "CompanyTypes", err)
		want := []psa.CompanyType{{ID: 101, Name: "Customer", IsDefault: true}, {ID: 103, Name: "Prospect"}, {ID: 107, Name: "Vendor"}}
		if !slices.Equal(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		cos, err := f.client.Companies(ctx, psa.CompanyFilter{TypeIDs: []int64{107}})
		MustNoErr(t, "Companies", err)
		if len(cos) != 1 || cos[0].ID != 501 {
			t.Fatalf("got %+v, want the vendor 501", cos)
		}
	})
	t.Run("Contracts", func(t *testing.T) {
		got, err := f.client.Contracts(ctx, 500)
		MustNoErr(t, "Contracts", err)
		if len(got) != 2 || got[0].ID != 700 || !got[0].Recurring || !got[0].Active || got[1].ID != 702 || got[1].Active {
			t.Fatalf("got %+v, want 700 (active) and 702 (inactive), both recurring", got)
		}
	})
	t.Run("Tickets", func(t *testing.T) {
		tk, err := f.client.CreateTicket(ctx, psa.TicketSpec{CompanyID: 500, Title: "[ALERT:x] seats", ExternalKey: "alert:x"})
		MustNoErr(t, "CreateTicket", err)
		st, _ := f.sb.Autotask.Ticket(testUser, tk.ID)
		if st.Status != 11 || st.Priority != 42 {
			t.Fatalf("got status %d priority %d, want the defaults 11 and 42", st.Status, st.Priority)
		}
		opts, err := f.client.TicketOptions(ctx)
		MustNoErr(t, "TicketOptions", err)
		var closed []int64
		for _, s := range opts.Statuses {
			if s.Closed {
				closed = append(closed, s.ID)
			}
		}
		if !slices.Equal(closed, []int64{15}) {
			t.Fatalf("got closed statuses %v, want [15]", closed)
		}
		MustNoErr(t, "AddNote", f.client.AddNote(ctx, tk.ID, psa.Note{Text: "still over"}))
		if n := f.sb.Autotask.Notes(testUser); len(n) != 1 || n[0].NoteType != 61 || n[0].Publish != 71 {
			t.Fatalf("got notes %+v, want one with noteType 61 and publish 71", n)
		}
		MustNoErr(t, "CloseTicket", f.client.CloseTicket(ctx, tk.ID, 15))
		if _, err := f.client.FindOpenTicket(ctx, 500, "alert:x"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found once status 15 (Complete) is set", err)
		}
	})
}

func TestCompanyAndContracts(t *testing.T) {
	ctx := context.Background()
	seed, _ := lineSeed(baseSeed(), 3, 6)
	seed.Contracts = append(seed.Contracts, sandbox.AutotaskContract{ID: 59999, CompanyID: 20000, Name: "Block hours", Type: 4})
	f := MustFixture(t, seed, time.Second)

	t.Run("Company", func(t *testing.T) {
		got, err := f.client.Company(ctx, 20001)
		MustNoErr(t, "Company", err)
		if got.Name != "Client 001" || !got.Active {
			t.Fatalf("got %+v, want Client 001, active", got)
		}
	})
	t.Run("ErrCompanyNotFound", func(t *testing.T) {
		if _, err := f.client.Company(ctx, 1); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found", err)
		}
	})
	t.Run("Contracts", func(t *testing.T) {
		got, err := f.client.Contracts(ctx, 20000)
		MustNoErr(t, "Contracts", err)
		if len(got) != 1 || got[0].ID != 50000 || !got[0].Recurring || !got[0].Active {
			t.Fatalf("got %+v, want only the recurring contract 50000", got)
		}
		if want := time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC); !got[0].EndDate.Equal(want) {
			t.Fatalf("got end %v, want %v", got[0].EndDate, want)
		}
	})
	t.Run("Contract", func(t *testing.T) {
		got, err := f.client.Contract(ctx, 59999)
		MustNoErr(t, "Contract", err)
		if got.Recurring || got.CompanyID != 20000 {
			t.Fatalf("got %+v, want the non-recurring contract of 20000", got)
		}
		if _, err := f.client.Contract(ctx, 4); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found", err)
		}
	})
	t.Run("Lines", func(t *testing.T) {
		got, err := f.client.Lines(ctx, 50001)
		MustNoErr(t, "Lines", err)
		want := []psa.ServiceLine{
			{ID: 100001, ContractID: 50001, ServiceID: 901, Name: "Backup per seat", UnitPrice: 22, UnitCost: 18.5},
			{ID: 100004, ContractID: 50001, ServiceID: 900, Name: "Microsoft 365 Business Premium", UnitPrice: 22, UnitCost: 18.5},
		}
		if !slices.Equal(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
}

func TestReadAndSetLines(t *testing.T) {
	ctx := context.Background()
	seed, refs := lineSeed(baseSeed(), 100, 1000)
	f := MustFixture(t, seed, 5*time.Second)

	states, err := f.client.ReadLines(ctx, refs, testNow)
	MustNoErr(t, "ReadLines", err)
	if len(states) != 1000 {
		t.Fatalf("got %d states, want 1000", len(states))
	}
	if st := states[refs[3]]; st.Quantity != 13 || st.UnitCost != 18.5 || st.UnitPrice != 22 || st.ServiceID != 901 {
		t.Fatalf("got %+v, want 13 units at 18.50/22", st)
	}
	counts := f.sb.Counts()
	// Every line has a unit row this month, so ContractServices is not asked.
	if a, b := counts["autotask POST ContractServices/query"], counts["autotask POST ContractServiceUnits/query"]; a != 0 || b != 2 {
		t.Fatalf("got %d ContractServices and %d ContractServiceUnits queries, want 0 and 2", a, b)
	}

	t.Run("AbsentLines", func(t *testing.T) {
		got, err := f.client.ReadLines(ctx, []psa.LineRef{{ContractID: 50000, LineID: 1}, {ContractID: 50001, LineID: 100000}, refs[0]}, testNow)
		MustNoErr(t, "ReadLines", err)
		if _, ok := got[refs[0]]; len(got) != 1 || !ok {
			t.Fatalf("got %+v, want only %v (an unknown line and a line under the wrong contract are absent)", got, refs[0])
		}
	})
	t.Run("NoUnitsInPeriod", func(t *testing.T) {
		// The contracts end in 2025: in 2026 the lines exist without unit rows.
		f.sb.ResetCounts()
		at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		got, err := f.client.ReadLines(ctx, []psa.LineRef{refs[3], {ContractID: 50001, LineID: 100000}, {ContractID: 50000, LineID: 1}}, at)
		MustNoErr(t, "ReadLines", err)
		want := psa.LineState{Ref: refs[3], ServiceID: 901, UnitCost: 18.5, UnitPrice: 22}
		if len(got) != 1 || !reflect.DeepEqual(got[refs[3]], want) {
			t.Fatalf("got %+v, want only %+v (0 units; a line under the wrong contract and an unknown line are absent)", got, want)
		}
		counts := f.sb.Counts()
		if a, b := counts["autotask POST ContractServices/query"], counts["autotask POST ContractServiceUnits/query"]; a != 1 || b != 1 {
			t.Fatalf("got %d ContractServices and %d ContractServiceUnits queries, want 1 and 1", a, b)
		}
	})
	t.Run("SetLine", func(t *testing.T) {
		eff := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
		before := states[refs[3]]
		MustNoErr(t, "SetLine", f.client.SetLine(ctx, psa.LineUpdate{Ref: refs[3], Current: before, Quantity: 20, UnitCost: 19, EffectiveDate: eff}))
		adj := f.sb.Autotask.Adjustments(testUser)
		if len(adj) != 1 || adj[0].UnitChange != 7 || adj[0].ContractServiceID != refs[3].LineID || !adj[0].EffectiveDate.Equal(eff) ||
			*adj[0].AdjustedUnitCost != 19 || *adj[0].AdjustedUnitPrice != 22 {
			t.Fatalf("got %+v, want one adjustment of +7 at cost 19 from %v", adj, eff)
		}
		after, err := f.client.ReadLines(ctx, refs[3:4], testNow)
		MustNoErr(t, "ReadLines", err)
		if st := after[refs[3]]; st.Quantity != 20 || st.UnitCost != 19 {
			t.Fatalf("got %+v, want 20 units at 19", st)
		}
		// May is before the effective date and keeps its units.
		may, err := f.client.ReadLines(ctx, refs[3:4], eff.AddDate(0, 0, -1))
		MustNoErr(t, "ReadLines", err)
		if st := may[refs[3]]; st.Quantity != 13 {
			t.Fatalf("got %d units in May, want 13", st.Quantity)
		}
	})
	t.Run("SetLineUnchanged", func(t *testing.T) {
		n := len(f.sb.Autotask.Adjustments(testUser))
		MustNoErr(t, "SetLine", f.client.SetLine(ctx, psa.LineUpdate{Ref: refs[4], Current: states[refs[4]], Quantity: 14, UnitCost: 18.5, EffectiveDate: testNow}))
		if got := len(f.sb.Autotask.Adjustments(testUser)); got != n {
			t.Fatalf("got %d adjustments, want %d (nothing to change)", got, n)
		}
	})
	t.Run("SetLineReadsWhenCurrentMissing", func(t *testing.T) {
		MustNoErr(t, "SetLine", f.client.SetLine(ctx, psa.LineUpdate{Ref: refs[5], Quantity: 2, UnitCost: 18.5, EffectiveDate: testNow}))
		adj := f.sb.Autotask.Adjustments(testUser)
		if last := adj[len(adj)-1]; last.UnitChange != 2-15 {
			t.Fatalf("got unitChange %d, want -13", last.UnitChange)
		}
	})
	t.Run("ErrSetLineNotFound", func(t *testing.T) {
		err := f.client.SetLine(ctx, psa.LineUpdate{Ref: psa.LineRef{ContractID: 50000, LineID: 2}, Quantity: 2, EffectiveDate: testNow})
		if !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found", err)
		}
	})
	t.Run("ErrSetLineOutsideContract", func(t *testing.T) {
		err := f.client.SetLine(ctx, psa.LineUpdate{Ref: refs[6], Current: states[refs[6]], Quantity: 30, EffectiveDate: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
		if !apperr.Is(err, apperr.Rejected) || len(apperr.DetailsOf(err)) != 1 {
			t.Fatalf("got %v, want rejected with Autotask's reason", err)
		}
	})
}

func TestCreateLine(t *testing.T) {
	ctx := context.Background()
	seed, _ := lineSeed(baseSeed(), 2, 2)
	f := MustFixture(t, seed, 5*time.Second)
	eff := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

	line, err := f.client.CreateLine(ctx, 50001, 900, 12, 17.5, eff)
	MustNoErr(t, "CreateLine", err)
	if line.ID == 0 || line.ContractID != 50001 || line.ServiceID != 900 || line.UnitPrice != 22 || line.UnitCost != 17.5 {
		t.Fatalf("got %+v, want a new line of service 900 on contract 50001 at 22/17.5", line)
	}
	ref := psa.LineRef{ContractID: 50001, LineID: line.ID}
	for _, tc := range []struct {
		name string
		at   time.Time
		want psa.LineState
	}{
		{"FromEffectiveDate", eff, psa.LineState{Ref: ref, ServiceID: 900, Quantity: 12, UnitCost: 17.5, UnitPrice: 22}},
		{"NotBefore", eff.AddDate(0, 0, -1), psa.LineState{Ref: ref, ServiceID: 900, UnitCost: 18.5, UnitPrice: 22}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.client.ReadLines(ctx, []psa.LineRef{ref}, tc.at)
			MustNoErr(t, "ReadLines", err)
			if !reflect.DeepEqual(got[ref], tc.want) {
				t.Fatalf("got %+v, want %+v", got[ref], tc.want)
			}
		})
	}
	t.Run("ErrServiceGone", func(t *testing.T) {
		if _, err := f.client.CreateLine(ctx, 50001, 999, 1, 1, eff); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found", err)
		}
	})
	t.Run("ErrContractGone", func(t *testing.T) {
		if _, err := f.client.CreateLine(ctx, 59999, 900, 1, 1, eff); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not_found", err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		if _, err := f.client.CreateLine(ctx, 50001, 900, -1, 1, eff); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("got %v, want invalid", err)
		}
	})
}

func TestTickets(t *testing.T) {
	ctx := context.Background()
	seed := ticketSeed(baseSeed())
	seed.Companies = []sandbox.AutotaskCompany{{ID: 500, Name: "Acme", Type: 1}}
	seed.Tickets = []sandbox.AutotaskTicket{{ID: 10, CompanyID: 500, Title: "old", Status: 5, Priority: 2, ExternalID: "alert:abc"}}
	f := MustFixture(t, seed, time.Second)

	if _, err := f.client.FindOpenTicket(ctx, 500, "alert:abc"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("got %v, want not_found (the only ticket is complete)", err)
	}
	spec := psa.TicketSpec{CompanyID: 500, Title: "[ALERT:abc] Seat overage", Description: "12 seats over", ExternalKey: "alert:abc",
		StatusID: 1, PriorityID: 1, SourceID: 8, QueueID: 8, ResourceID: 29682885, RoleID: 29682801, CategoryID: 4, IssueTypeID: 11,
		Due: testNow.Add(24 * time.Hour)}
	tk, err := f.client.CreateTicket(ctx, spec)
	MustNoErr(t, "CreateTicket", err)
	st, ok := f.sb.Autotask.Ticket(testUser, tk.ID)
	if !ok || st.ExternalID != "alert:abc" || st.AssignedResourceRoleID != 29682801 || st.QueueID != 8 || st.Description != "12 seats over" {
		t.Fatalf("got %+v, want the ticket as specified", st)
	}
	found, err := f.client.FindOpenTicket(ctx, 500, "alert:abc")
	MustNoErr(t, "FindOpenTicket", err)
	if found.ID != tk.ID || found.ExternalKey != "alert:abc" || found.StatusID != 1 {
		t.Fatalf("got %+v, want ticket %d", found, tk.ID)
	}
	MustNoErr(t, "AddNote", f.client.AddNote(ctx, tk.ID, psa.Note{Title: "Update", Text: "now 14 over"}))
	if n := f.sb.Autotask.Notes(testUser); len(n) != 1 || n[0].TicketID != tk.ID || n[0].Description != "now 14 over" || n[0].Title != "Update" {
		t.Fatalf("got %+v, want the note on %d", n, tk.ID)
	}
	if err := f.client.AddNote(ctx, 999999, psa.Note{Text: "x"}); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("got %v, want not_found for a note on a missing ticket", err)
	}
	MustNoErr(t, "CloseTicket", f.client.CloseTicket(ctx, tk.ID, 5))
	if st, _ := f.sb.Autotask.Ticket(testUser, tk.ID); st.Status != 5 {
		t.Fatalf("got status %d, want 5", st.Status)
	}
	if err := f.client.CloseTicket(ctx, 999999, 5); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("got %v, want not_found", err)
	}

	t.Run("TicketOptions", func(t *testing.T) {
		o, err := f.client.TicketOptions(ctx)
		MustNoErr(t, "TicketOptions", err)
		if len(o.Statuses) != 4 || len(o.Priorities) != 4 || len(o.Sources) != 4 || len(o.Queues) != 3 || len(o.IssueTypes) != 3 || len(o.Categories) != 2 {
			t.Fatalf("got %+v, want the default picklists", o)
		}
		if !slices.Equal(o.Resources, []psa.Option{{ID: 29682885, Name: "Ada Lovelace"}}) {
			t.Fatalf("got resources %+v, want the active one", o.Resources)
		}
		if len(o.Roles) != 2 {
			t.Fatalf("got roles %+v, want 2", o.Roles)
		}
	})
	t.Run("ErrTitleTooLong", func(t *testing.T) {
		_, err := f.client.CreateTicket(ctx, psa.TicketSpec{CompanyID: 500, Title: strings.Repeat("x", 256)})
		if !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("got %v, want invalid", err)
		}
	})
}

// The vendor's words must reach the caller unchanged.
func TestValidationErrorVerbatim(t *testing.T) {
	seed := ticketSeed(baseSeed())
	seed.Companies = []sandbox.AutotaskCompany{{ID: 500, Name: "Acme", Type: 1}}
	f := MustFixture(t, seed, time.Second)
	_, err := f.client.CreateTicket(context.Background(), psa.TicketSpec{CompanyID: 500, Title: "t", ResourceID: 29682885})
	want := "Data violation: When assigning a Resource, you must assign both a assignedResourceID and assignedResourceRoleID."
	if !apperr.Is(err, apperr.Rejected) || !slices.Equal(apperr.DetailsOf(err), []string{want}) {
		t.Fatalf("got %v (details %q), want rejected with %q", err, apperr.DetailsOf(err), want)
	}
	// A validation failure is not retried.
	if got := f.sb.Counts()["autotask POST Tickets"]; got != 1 {
		t.Fatalf("got %d POSTs, want 1", got)
	}
	if got := f.sb.Autotask.TicketsCreated(testUser); got != 0 {
		t.Fatalf("got %d tickets, want 0", got)
	}
}

func TestZoneMove(t *testing.T) {
	ctx := context.Background()
	seed, _ := lineSeed(baseSeed(), 2, 2)
	f := MustFixture(t, seed, time.Second)
	MustNoErr(t, "Company", errOf(f.client.Company(ctx, 20000)))
	f.sb.Autotask.MoveInstance(testUser, "webservices29")
	got, err := f.client.Company(ctx, 20001)
	MustNoErr(t, "Company after the move", err)
	if got.ID != 20001 {
		t.Fatalf("got %+v, want company 20001", got)
	}
	counts := f.sb.Counts()
	if got := counts["autotask GET zoneInformation"]; got != 2 {
		t.Fatalf("got %d zone lookups, want 2 (first use, after the 401)", got)
	}
	if got := counts["autotask GET Companies/{id}"]; got != 3 {
		t.Fatalf("got %d company requests, want 3 (ok, 401 on the old zone, ok on the new)", got)
	}
	if !strings.Contains(f.client.base, "/webservices29/") {
		t.Fatalf("got base %q, want the new zone", f.client.base)
	}
}

func TestZoneRediscoveredAfterConnectionFailure(t *testing.T) {
	ctx := context.Background()
	seed, _ := lineSeed(baseSeed(), 1, 1)
	f := MustFixture(t, seed, time.Second)
	MustNoErr(t, "Company", errOf(f.client.Company(ctx, 20000)))
	// The cached zone points at a host that refuses connections.
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close()
	f.client.mu.Lock()
	f.client.base = deadURL + "/autotask/webservices5/"
	f.client.mu.Unlock()
	MustNoErr(t, "Company after a connection failure", errOf(f.client.Company(ctx, 20000)))
	if got := f.sb.Counts()["autotask GET zoneInformation"]; got != 2 {
		t.Fatalf("got %d zone lookups, want 2", got)
	}
}

func errOf[T any](_ T, err error) error { return err }

func TestRetryAfterHonoured(t *testing.T) {
	ctx := context.Background()
	seed, _ := lineSeed(baseSeed(), 1, 1)
	f := MustFixture(t, seed, time.Second)
	MustNoErr(t, "warm up", f.client.Verify(ctx))
	f.sb.SetFaults(sandbox.Faults{Seed: 1, Rate429: 1, RetryAfter: 7 * time.Second})
	// The sandbox recovers while the client waits.
	f.sleeps.hook = func(int) { f.sb.SetFaults(sandbox.Faults{}) }
	got, err := f.client.Company(ctx, 20000)
	MustNoErr(t, "Company", err)
	if got.ID != 20000 {
		t.Fatalf("got %+v, want company 20000", got)
	}
	if w := f.sleeps.all(); !slices.Equal(w, []time.Duration{7 * time.Second}) {
		t.Fatalf("got waits %v, want [7s] (the Retry-After)", w)
	}

	t.Run("ErrStillThrottled", func(t *testing.T) {
		f.sleeps.hook = nil
		f.sb.SetFaults(sandbox.Faults{Seed: 1, Rate429: 1, RetryAfter: 3 * time.Second})
		defer f.sb.SetFaults(sandbox.Faults{})
		err := f.client.SetLine(ctx, psa.LineUpdate{Ref: psa.LineRef{ContractID: 50000, LineID: 100000},
			Current: psa.LineState{Ref: psa.LineRef{ContractID: 50000, LineID: 100000}, Quantity: 1}, Quantity: 5, EffectiveDate: testNow})
		if !apperr.IsTransient(err) || apperr.RetryAfterOf(err) != 3*time.Second {
			t.Fatalf("got %v, want transient with RetryAfter 3s", err)
		}
		// A 429 means Autotask did nothing, so even the adjustment is resent.
		if got := f.sb.Counts()["autotask POST ContractServiceAdjustments"]; got != 4 {
			t.Fatalf("got %d adjustment POSTs, want 4 (all attempts)", got)
		}
		if got := len(f.sb.Autotask.Adjustments(testUser)); got != 0 {
			t.Fatalf("got %d adjustments, want 0", got)
		}
	})
}

func TestThreadLimitUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	seed, refs := lineSeed(baseSeed(), 20, 20)
	f := MustFixture(t, seed, 5*time.Second)
	f.sb.Autotask.SetLatency(3 * time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if _, err := f.client.Company(ctx, int64(20000+i)); err != nil {
					errs <- err
					return
				}
				if _, err := f.client.ReadLines(ctx, refs[i:i+1], testNow); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent call: %v", err)
	}
	if got := f.sb.Autotask.MaxInFlight(); got != sandbox.AutotaskThreadLimit {
		t.Fatalf("got at most %d requests in flight on one endpoint, want exactly %d (the limit, reached)", got, sandbox.AutotaskThreadLimit)
	}
	if got := f.sb.Autotask.ThreadLimitErrors(); got != 0 {
		t.Fatalf("got %d thread-threshold errors, want 0", got)
	}
}

// Under 20% injected faults, read-then-adjust converges and no adjustment
// is ever applied twice.
func TestConvergesUnderFaults(t *testing.T) {
	ctx := context.Background()
	seed, refs := lineSeed(baseSeed(), 50, 500)
	f := MustFixture(t, seed, 100*time.Millisecond)
	initial := map[int64]int64{}
	for i, r := range refs {
		initial[r.LineID] = int64(10 + i%7)
	}
	target := func(i int) (int64, float64) { return int64((i * 37) % 41), 17 + float64(i%3) }
	f.sb.SetFaults(sandbox.Faults{Seed: 42, Rate500: 0.05, Rate429: 0.05, RetryAfter: time.Second,
		RateThreadLimit: 0.05, RateSlow: 0.05, SlowDelay: 200 * time.Millisecond})
	eff := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	converged, rounds := false, 0
	for ; rounds < 60 && !converged; rounds++ {
		states, err := f.client.ReadLines(ctx, refs, testNow)
		if err != nil {
			if !apperr.IsTransient(err) {
				t.Fatalf("ReadLines: %v", err)
			}
			continue
		}
		var todo []int
		for i, r := range refs {
			q, cost := target(i)
			if st := states[r]; st.Quantity != q || st.UnitCost != cost {
				todo = append(todo, i)
			}
		}
		converged = len(todo) == 0
		var wg sync.WaitGroup
		work := make(chan int)
		fatal := make(chan error, len(todo))
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					q, cost := target(i)
					err := f.client.SetLine(ctx, psa.LineUpdate{Ref: refs[i], Current: states[refs[i]], Quantity: q, UnitCost: cost, EffectiveDate: eff})
					if err != nil && !apperr.IsTransient(err) {
						fatal <- err
					}
				}
			}()
		}
		for _, i := range todo {
			work <- i
		}
		close(work)
		wg.Wait()
		close(fatal)
		for err := range fatal {
			t.Fatalf("SetLine: %v", err)
		}
	}
	f.sb.SetFaults(sandbox.Faults{})
	if !converged {
		t.Fatalf("got no convergence in 60 rounds")
	}
	for i, r := range refs {
		q, _ := target(i)
		if got, _ := f.sb.Autotask.Units(testUser, r.LineID, testNow); got != q {
			t.Fatalf("line %d: got %d units, want %d", r.LineID, got, q)
		}
	}
	perLine := map[int64][]int64{}
	for _, a := range f.sb.Autotask.Adjustments(testUser) {
		perLine[a.ContractServiceID] = append(perLine[a.ContractServiceID], a.UnitChange)
	}
	for i, r := range refs {
		q, _ := target(i)
		if got := perLine[r.LineID]; len(got) != 1 || got[0] != q-initial[r.LineID] {
			t.Fatalf("line %d: got adjustments %v, want exactly one of %d", r.LineID, got, q-initial[r.LineID])
		}
	}
	c := f.sb.Counts()
	t.Logf("%d rounds; requests: %d adjustment POSTs, %d reads; faults: %d thread-limit errors", rounds, c["autotask POST ContractServiceAdjustments"],
		c["autotask POST ContractServiceUnits/query"], f.sb.Autotask.ThreadLimitErrors())
}

func TestHTTPPolicy(t *testing.T) {
	ctx := context.Background()
	seed := baseSeed()
	sb := sandbox.New()
	sb.Now = func() time.Time { return testNow }
	sb.Autotask.AddInstance(seed)
	creds := psa.Credentials{Username: testUser, Secret: testSecret, IntegrationCode: testCode}

	t.Run("DefaultRefusesPlainHTTP", func(t *testing.T) {
		srv := httptest.NewServer(sb)
		defer srv.Close()
		c, err := New(Config{Credentials: creds, Endpoints: psa.Endpoints{AutotaskZoneURL: srv.URL + "/autotask/atservicesrest/"}})
		MustNoErr(t, "New", err)
		err = c.Verify(ctx)
		if !apperr.Is(err, apperr.Invalid) || !errors.Is(err, psahttp.ErrDestinationRefused) {
			t.Fatalf("got %v, want invalid: destination refused", err)
		}
	})
	t.Run("DefaultRefusesLoopback", func(t *testing.T) {
		srv := httptest.NewTLSServer(sb)
		defer srv.Close()
		c, err := New(Config{Credentials: creds, Endpoints: psa.Endpoints{AutotaskZoneURL: srv.URL + "/autotask/atservicesrest/"}})
		MustNoErr(t, "New", err)
		err = c.Verify(ctx)
		if !apperr.Is(err, apperr.Invalid) || !errors.Is(err, psahttp.ErrDestinationRefused) || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("got %v, want invalid: loopback refused", err)
		}
		if got := sb.Total("autotask"); got != 0 {
			t.Fatalf("got %d requests at the sandbox, want 0", got)
		}
	})
	t.Run("AllowPrivate", func(t *testing.T) {
		srv := httptest.NewServer(sb)
		defer srv.Close()
		c, err := New(Config{Credentials: creds, Endpoints: psa.Endpoints{AutotaskZoneURL: srv.URL + "/autotask/atservicesrest/"},
			Options: psahttp.Options{HTTPClient: psahttp.NewHTTPClient(psahttp.Policy{AllowPrivate: true}, time.Second)}})
		MustNoErr(t, "New", err)
		MustNoErr(t, "Verify", c.Verify(ctx))
	})
}

func TestPageRefStaysOnZone(t *testing.T) {
	c := &Client{base: "https://webservices5.autotask.net/atservicesrest/"}
	for name, tc := range map[string]struct {
		next, want string
		ok         bool
	}{
		"SameZone":      {"https://webservices5.autotask.net/ATServicesRest/V1.0/Companies/query/next?paging=abc", "V1.0/Companies/query/next?paging=abc", true},
		"ErrOtherHost":  {"https://evil.example/atservicesrest/V1.0/Companies/query/next?paging=abc", "", false},
		"ErrOtherPath":  {"https://webservices5.autotask.net/other/V1.0/x", "", false},
		"ErrDowngraded": {"http://webservices5.autotask.net/atservicesrest/V1.0/x", "", false},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := c.pageRef(tc.next)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("got %q, %v; want %q, ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
}
