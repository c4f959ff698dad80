package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/app"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
)

// fakePSA is a MappingReader over fixed companies, contracts and lines,
// counting its reads.
type fakePSA struct {
	companies map[int64]psa.Company
	contracts map[int64]psa.Contract
	lines     map[int64][]psa.ServiceLine
	err       error
	reads     []string
}

func (f *fakePSA) CompaniesByID(_ context.Context, ids []int64) (map[int64]psa.Company, error) {
	f.reads = append(f.reads, "companies")
	out := map[int64]psa.Company{}
	for _, id := range ids {
		if c, ok := f.companies[id]; ok {
			out[id] = c
		}
	}
	return out, f.err
}

func (f *fakePSA) ContractsByID(_ context.Context, ids []int64) (map[int64]psa.Contract, error) {
	f.reads = append(f.reads, "contracts")
	out := map[int64]psa.Contract{}
	for _, id := range ids {
		if c, ok := f.contracts[id]; ok {
			out[id] = c
		}
	}
	return out, nil
}

func (f *fakePSA) Lines(_ context.Context, contractID int64) ([]psa.ServiceLine, error) {
	f.reads = append(f.reads, "lines")
	ls, ok := f.lines[contractID]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no contract %d", contractID)
	}
	return ls, nil
}

var checkNow = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

func newFakePSA() *fakePSA {
	return &fakePSA{
		companies: map[int64]psa.Company{1: {ID: 1, Name: "Acme", Active: true}, 2: {ID: 2, Name: "Beta", Active: true}},
		contracts: map[int64]psa.Contract{
			10: {ID: 10, CompanyID: 1, Name: "Acme MSA", Recurring: true, Active: true},
			11: {ID: 11, CompanyID: 1, Name: "Old MSA", Recurring: true, Active: false},
			12: {ID: 12, CompanyID: 1, Name: "Ended MSA", Recurring: true, Active: true, EndDate: checkNow.AddDate(0, -1, 0)},
			20: {ID: 20, CompanyID: 2, Name: "Beta MSA", Recurring: true, Active: true},
		},
		lines: map[int64][]psa.ServiceLine{
			10: {{ID: 100, ContractID: 10, ServiceID: 7, Name: "Seats"}, {ID: 101, ContractID: 10, ServiceID: 8, Name: "Old seats", Cancelled: true}},
			11: {{ID: 110, ContractID: 11, ServiceID: 7}},
			12: {{ID: 120, ContractID: 12, ServiceID: 7}},
			20: {{ID: 200, ContractID: 20, ServiceID: 7}},
		},
	}
}

func mapping(company, contract int64, lines ...int64) billing.Mapping {
	m := billing.Mapping{CompanyID: company, ContractID: contract, State: billing.Mapped}
	for _, l := range lines {
		m.Lines = append(m.Lines, billing.LineMapping{Product: "users", LineID: l})
	}
	return m
}

// TestCheckNewMapping: a mapping whose company, contract or lines are gone,
// of another company, cancelled or ended is refused (Rejected), naming the
// first problem in a fixed order and the fix where there is one; a good
// one gives the PSA's names.
func TestCheckNewMapping(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    billing.Mapping
		want string // in the Rejected message; "" for accepted
	}{
		{"OK", mapping(1, 10, 100), ""},
		{"ErrCompanyGone", mapping(9, 10, 100), "company 9 does not exist in the PSA"},
		{"ErrCompanyGoneBeforeContract", mapping(9, 99, 100), "company 9 does not exist"},
		{"ErrContractGone", mapping(1, 99, 100), "contract 99 does not exist in the PSA"},
		{"ErrContractOtherCompany", mapping(2, 10, 100), "contract 10 belongs to another company, not 2"},
		{"ErrContractCancelled", mapping(1, 11, 110), "contract_cancelled: Contract 11"},
		{"ErrContractEnded", mapping(1, 12, 120), "contract_ended: Contract 12"},
		{"ErrLineCancelled", mapping(1, 10, 101), "line_cancelled: Line 101"},
		{"ErrLineCancelledBeforeMissing", mapping(1, 10, 555, 101), "line_cancelled"},
		{"ErrLineMissing", mapping(1, 10, 100, 555), "line 555 is not a line of contract 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names, err := app.CheckNewMapping(context.Background(), newFakePSA(), tc.m, checkNow)
			if tc.want == "" {
				if err != nil || names != (billing.MappedNames{Company: "Acme", Contract: "Acme MSA"}) {
					t.Fatalf("got %+v, %v; want Acme / Acme MSA", names, err)
				}
				return
			}
			if !apperr.Is(err, apperr.Rejected) || !strings.Contains(apperr.MessageOf(err), tc.want) {
				t.Fatalf("got %v, want rejected saying %q", err, tc.want)
			}
		})
	}
}

// TestCheckNewMappingPSAError: the PSA refusing the stored credentials is
// Rejected naming it, not the caller's Unauthorized; an outage stays
// Transient.
func TestCheckNewMappingPSAError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want apperr.Code
	}{
		{"Unauthorized", apperr.New(apperr.Unauthorized, "bad key"), apperr.Rejected},
		{"Transient", apperr.New(apperr.Transient, "down"), apperr.Transient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePSA()
			f.err = tc.err
			if _, err := app.CheckNewMapping(context.Background(), f, mapping(1, 10, 100), checkNow); apperr.CodeOf(err) != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}

// TestCheckMappings: all mappings cost two batched reads, plus one read of
// lines per distinct contract the PSA has when lines are checked; the
// verdicts are billing.CheckMapping's.
func TestCheckMappings(t *testing.T) {
	maps := map[string]billing.Mapping{"a": mapping(1, 10, 100), "b": mapping(1, 10, 101), "c": mapping(2, 20, 200), "gone": mapping(1, 99, 1)}
	for _, tc := range []struct {
		name      string
		lc        app.LineCheck
		wantReads int
		want      map[string]billing.HealthStatus
	}{
		{"CompaniesAndContracts", app.LineCheck{}, 2,
			map[string]billing.HealthStatus{"a": billing.HealthOK, "b": billing.HealthOK, "c": billing.HealthOK, "gone": billing.HealthBroken}},
		{"Lines", app.LineCheck{Read: true}, 4,
			map[string]billing.HealthStatus{"a": billing.HealthOK, "b": billing.HealthBroken, "c": billing.HealthOK, "gone": billing.HealthBroken}},
		{"Catalog", app.LineCheck{Read: true, Catalog: map[billing.Product]int64{"users": 8}}, 4,
			map[string]billing.HealthStatus{"a": billing.HealthBroken, "b": billing.HealthBroken, "c": billing.HealthBroken, "gone": billing.HealthBroken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePSA()
			got, err := app.CheckMappings(context.Background(), f, maps, tc.lc, checkNow)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.reads) != tc.wantReads {
				t.Errorf("reads: got %v, want %d", f.reads, tc.wantReads)
			}
			for org, want := range tc.want {
				if got[org].Health.Status != want {
					t.Errorf("%s: got %s %+v, want %s", org, got[org].Health.Status, got[org].Health.Problems, want)
				}
			}
		})
	}
	t.Run("Empty", func(t *testing.T) {
		f := newFakePSA()
		if got, err := app.CheckMappings(context.Background(), f, nil, app.LineCheck{Read: true}, checkNow); err != nil || len(got) != 0 || len(f.reads) != 0 {
			t.Fatalf("got %v %v after %v, want nothing read", got, err, f.reads)
		}
	})
}
