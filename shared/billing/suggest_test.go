package billing_test

import (
	"slices"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
)

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ACME Inc", "acme"},
		{"Acme, Inc.", "acme"},
		{"  acme   INCORPORATED ", "acme"},
		{"Smith & Jones LLC", "smith and jones"},
		{"Smith and Jones", "smith and jones"},
		{"Müller GmbH & Co. KG", "müller"},
		{"Widgets Pty Ltd", "widgets"},
		{"Fabrikam S.A.", "fabrikam"},
		{"Contoso B.V.", "contoso"},
		{"O'Brien Plumbing Co.", "obrien plumbing"},
		{"The Acme Corporation", "acme"},
		{"Acme Co Holdings", "acme co holdings"},
		{"The Company", "company"},
		{"Inc", "inc"},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := billing.NormalizeName(tc.in); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNameScore(t *testing.T) {
	for _, tc := range []struct {
		name, org, better, worse string
	}{
		{"SameSuffixBeatsOtherSuffix", "ACME Inc", "Acme, Inc.", "Acme LLC"},
		{"SuffixOnlyBeatsExtraWord", "ACME Inc", "Acme LLC", "Acme Labs Inc"},
		{"TypoBeatsOtherCompany", "Contoso", "Contosso Ltd", "Fabrikam Ltd"},
		{"AmpersandIsAnd", "Smith and Jones", "Smith & Jones", "Smith Jones Partners"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, w := billing.NameScore(tc.org, tc.better), billing.NameScore(tc.org, tc.worse)
			if b <= w {
				t.Fatalf("got %q %.3f ≤ %q %.3f, want the first higher", tc.better, b, tc.worse, w)
			}
		})
	}
	if got := billing.NameScore("ACME Inc", "Acme, Inc."); got != 1 {
		t.Fatalf("got %v for the same name, want 1", got)
	}
	if got := billing.NameScore("Acme", "Zebra Logistics"); got >= billing.MinSuggestionScore {
		t.Fatalf("got %v for unrelated names, want below %v", got, billing.MinSuggestionScore)
	}
}

func TestRankCompanies(t *testing.T) {
	const customer, prospect, vendor = 1, 3, 7
	companies := []psa.Company{
		{ID: 1, Name: "Acme LLC", TypeIDs: []int64{customer}, Active: true},
		{ID: 2, Name: "Acme, Inc.", TypeIDs: []int64{customer}, Active: true},
		{ID: 3, Name: "ACME Inc", TypeIDs: []int64{vendor}, Active: true},     // unchosen type
		{ID: 4, Name: "Acme Inc.", TypeIDs: []int64{customer}, Active: false}, // inactive
		{ID: 5, Name: "Acme Labs", TypeIDs: []int64{prospect}, Active: true},
		{ID: 6, Name: "Zebra Logistics", TypeIDs: []int64{customer}, Active: true},
	}
	got := billing.RankCompanies("ACME Inc", companies, []int64{customer, prospect}, billing.MinSuggestionScore, 0)
	var ids []int64
	for _, s := range got {
		ids = append(ids, s.Company.ID)
	}
	if want := []int64{2, 1, 5}; !slices.Equal(ids, want) {
		t.Fatalf("got %v, want %v", ids, want)
	}
	t.Run("Limit", func(t *testing.T) {
		if got := billing.RankCompanies("ACME Inc", companies, []int64{customer, prospect}, 0, 1); len(got) != 1 || got[0].Company.ID != 2 {
			t.Fatalf("got %+v, want only company 2", got)
		}
	})
	t.Run("NoTypesChosenSuggestsNothing", func(t *testing.T) {
		if got := billing.RankCompanies("ACME Inc", companies, nil, 0, 0); len(got) != 0 {
			t.Fatalf("got %+v, want none", got)
		}
	})
}

func TestChooseContract(t *testing.T) {
	at := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	d := func(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }
	current := psa.Contract{ID: 3, Recurring: true, Active: true, StartDate: d(2025, 1), EndDate: d(2026, 12)}
	newer := psa.Contract{ID: 4, Recurring: true, Active: true, StartDate: d(2026, 1)}
	future := psa.Contract{ID: 5, Recurring: true, Active: true, StartDate: d(2026, 6)}
	endedC := psa.Contract{ID: 6, Recurring: true, Active: true, StartDate: d(2024, 1), EndDate: d(2025, 12)}
	oneOff := psa.Contract{ID: 7, Recurring: false, Active: true, StartDate: d(2026, 2)}
	cancelled := psa.Contract{ID: 8, Recurring: true, Active: false, StartDate: d(2026, 2)}
	for _, tc := range []struct {
		name      string
		contracts []psa.Contract
		want      int64
	}{
		{"OnlyOne", []psa.Contract{current}, 3},
		{"LatestStartInForce", []psa.Contract{current, newer, future}, 4},
		{"InForceBeforeFuture", []psa.Contract{future, current}, 3},
		{"FutureWhenNothingElse", []psa.Contract{future, endedC}, 5},
		{"NoneFits", []psa.Contract{endedC, oneOff, cancelled}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := billing.ChooseContract(tc.contracts, at)
			if ok != (tc.want != 0) || got.ID != tc.want {
				t.Fatalf("got %d (%v), want %d", got.ID, ok, tc.want)
			}
		})
	}
}

func TestChooseLine(t *testing.T) {
	lines := []psa.ServiceLine{{ID: 9, ServiceID: 900, Cancelled: true}, {ID: 12, ServiceID: 900}, {ID: 11, ServiceID: 900}, {ID: 10, ServiceID: 901}}
	for _, tc := range []struct {
		name    string
		service int64
		want    int64
	}{
		{"LowestActive", 900, 11},
		{"Other", 901, 10},
		{"None", 902, 0},
		{"NoCatalogProduct", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := billing.ChooseLine(lines, tc.service)
			if ok != (tc.want != 0) || got.ID != tc.want {
				t.Fatalf("got %d (%v), want %d", got.ID, ok, tc.want)
			}
		})
	}
}
