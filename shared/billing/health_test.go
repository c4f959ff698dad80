package billing_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
)

func TestCheckMapping(t *testing.T) {
	at := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	m := billing.Mapping{CompanyID: 10, ContractID: 20, State: billing.Mapped,
		Lines: []billing.LineMapping{{Product: "users", LineID: 30}, {Product: "storage_gb", LineID: 31}}}
	seen := billing.MappedNames{Company: "Acme Inc", Contract: "Managed services"}
	catalog := map[billing.Product]int64{"users": 900}
	company := func() *psa.Company { return &psa.Company{ID: 10, Name: "Acme Inc", Active: true} }
	contract := func() *psa.Contract {
		return &psa.Contract{ID: 20, CompanyID: 10, Name: "Managed services", Recurring: true, Active: true,
			StartDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), EndDate: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)}
	}
	lines := func() []psa.ServiceLine {
		return []psa.ServiceLine{{ID: 30, ContractID: 20, ServiceID: 900, Name: "Backup seat"}, {ID: 31, ContractID: 20, ServiceID: 901, Name: "Backup GB"}}
	}
	view := func(f func(*billing.PSAView)) billing.PSAView {
		v := billing.PSAView{Company: company(), Contract: contract(), Lines: lines()}
		f(&v)
		return v
	}
	for _, tc := range []struct {
		name          string
		view          billing.PSAView
		want          []billing.ProblemCode
		status        billing.HealthStatus
		blocksUsers   bool
		blocksStorage bool
	}{
		{"OK", view(func(*billing.PSAView) {}), nil, billing.HealthOK, false, false},
		{"CompanyGone", view(func(v *billing.PSAView) { v.Company = nil }), []billing.ProblemCode{billing.CompanyGone}, billing.HealthBroken, true, true},
		{"CompanyInactive", view(func(v *billing.PSAView) { v.Company.Active = false }), []billing.ProblemCode{billing.CompanyInactive}, billing.HealthBroken, true, true},
		{"CompanyRenamedIsAWarning", view(func(v *billing.PSAView) { v.Company.Name = "Acme Holdings" }), []billing.ProblemCode{billing.CompanyRenamed}, billing.HealthWarning, false, false},
		{"ContractGone", view(func(v *billing.PSAView) { v.Contract, v.Lines = nil, nil }), []billing.ProblemCode{billing.ContractGone}, billing.HealthBroken, true, true},
		{"ContractCancelled", view(func(v *billing.PSAView) { v.Contract.Active = false }), []billing.ProblemCode{billing.ContractCancelled}, billing.HealthBroken, true, true},
		{"ContractEndedYesterday", view(func(v *billing.PSAView) { v.Contract.EndDate = time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC) }), []billing.ProblemCode{billing.ContractEnded}, billing.HealthBroken, true, true},
		{"ContractEndsTodayStillRuns", view(func(v *billing.PSAView) { v.Contract.EndDate = time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC) }), nil, billing.HealthOK, false, false},
		{"ContractNotRecurring", view(func(v *billing.PSAView) { v.Contract.Recurring = false }), []billing.ProblemCode{billing.ContractNotRecurring}, billing.HealthBroken, true, true},
		{"ContractOfOtherCompany", view(func(v *billing.PSAView) { v.Contract.CompanyID = 11 }), []billing.ProblemCode{billing.ContractOtherCompany}, billing.HealthBroken, true, true},
		{"LineMissing", view(func(v *billing.PSAView) { v.Lines = v.Lines[1:] }), []billing.ProblemCode{billing.LineMissing}, billing.HealthBroken, true, false},
		{"LineCancelled", view(func(v *billing.PSAView) { v.Lines[1].Cancelled = true }), []billing.ProblemCode{billing.LineCancelled}, billing.HealthBroken, false, true},
		{"ProductMismatch", view(func(v *billing.PSAView) { v.Lines[0].ServiceID = 901 }), []billing.ProblemCode{billing.ProductMismatch}, billing.HealthBroken, true, false},
		{"RenamedAndLineMissing", view(func(v *billing.PSAView) { v.Company.Name = "Acme Holdings"; v.Lines = v.Lines[:1] }),
			[]billing.ProblemCode{billing.CompanyRenamed, billing.LineMissing}, billing.HealthBroken, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := billing.CheckMapping(m, seen, tc.view, catalog, at)
			if got := h.Codes(); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if h.Status != tc.status {
				t.Fatalf("got status %s, want %s", h.Status, tc.status)
			}
			if got := h.Blocks("users"); got != tc.blocksUsers {
				t.Fatalf("blocks users: got %v, want %v", got, tc.blocksUsers)
			}
			if got := h.Blocks("storage_gb"); got != tc.blocksStorage {
				t.Fatalf("blocks storage_gb: got %v, want %v", got, tc.blocksStorage)
			}
			for _, p := range h.Problems {
				if p.Message == "" || p.Fix == "" {
					t.Fatalf("problem %s lacks a message or a fix: %+v", p.Code, p)
				}
			}
		})
	}
	t.Run("RenameShowsOldAndNew", func(t *testing.T) {
		h := billing.CheckMapping(m, seen, view(func(v *billing.PSAView) { v.Company.Name = "Acme Holdings" }), catalog, at)
		p := h.Problems[0]
		if p.Before != "Acme Inc" || p.After != "Acme Holdings" || p.CompanyID != 10 || !strings.Contains(p.Message, "10") {
			t.Fatalf("got %+v, want Acme Inc → Acme Holdings on company 10", p)
		}
	})
	t.Run("NoNameSeenNoRename", func(t *testing.T) {
		h := billing.CheckMapping(m, billing.MappedNames{}, view(func(v *billing.PSAView) { v.Company.Name = "Other" }), catalog, at)
		if h.Status != billing.HealthOK {
			t.Fatalf("got %v, want ok when no name was recorded", h.Codes())
		}
	})
}
