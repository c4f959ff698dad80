package app

import (
	"context"
	"time"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/clock"
)

// SuggestionLimit is how many companies a suggestion ranks.
const SuggestionLimit = 5

// Suggestions proposes mappings; nothing is ever saved by it (the admin
// applies a proposal with PUT …/mapping).
type Suggestions struct {
	Orgs     MappingStore
	Catalogs CatalogStore
	Pickers  *Pickers
	Now      func() time.Time
}

// Suggestion is the ranked companies for one org and, when asked for one
// org, a complete mapping proposed for the best.
type Suggestion struct {
	Org string
	// Name is the org's name the companies are ranked against (its id
	// when it has none).
	Name      string
	Companies []billing.CompanySuggestion
	// Proposal is nil when no company ranked or the best has no fitting
	// contract.
	Proposal *billing.Mapping
}

// ForOrg ranks the PSA companies of the chosen types for an org by name
// and, for the best one, proposes its current recurring contract and the
// contract's line of each pushed catalog product. NotFound for an unknown
// org or without an integration; PSA errors as PSAError gives them; the
// store's.
func (s *Suggestions) ForOrg(ctx context.Context, tenant, org string) (Suggestion, error) {
	o, err := s.Orgs.Org(ctx, tenant, org)
	if err != nil {
		return Suggestion{}, err
	}
	cc, err := s.Pickers.Companies(ctx, tenant)
	if err != nil {
		return Suggestion{}, err
	}
	cat, err := s.Catalogs.Catalog(ctx, tenant)
	if err != nil {
		return Suggestion{}, err
	}
	sg := rank(cc, o)
	if len(sg.Companies) > 0 {
		if sg.Proposal, err = s.propose(ctx, tenant, cc, sg.Companies[0].Company.ID, cat); err != nil {
			return Suggestion{}, err
		}
	}
	return sg, nil
}

// Unmapped ranks companies for every unmapped org in one call: the company
// types and the companies of the chosen types are the only PSA reads (two
// requests, cached), whatever the number of orgs; no proposal. NotFound
// without an integration; PSA errors as PSAError gives them; the store's.
func (s *Suggestions) Unmapped(ctx context.Context, tenant string) ([]Suggestion, error) {
	orgs, err := s.Orgs.Orgs(ctx, tenant)
	if err != nil {
		return nil, err
	}
	cc, err := s.Pickers.Companies(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := []Suggestion{}
	for _, o := range orgs {
		if o.State() == billing.Unmapped {
			out = append(out, rank(cc, o))
		}
	}
	return out, nil
}

// rank ranks the chosen companies for one org.
func rank(cc CompanyChoice, org billing.Org) Suggestion {
	name := org.Name
	if name == "" {
		name = org.ID
	}
	ranked := billing.RankCompanies(name, cc.Companies, cc.Chosen, billing.MinSuggestionScore, SuggestionLimit)
	for i := range ranked {
		if ranked[i].Company.TypeIDs == nil {
			ranked[i].Company.TypeIDs = []int64{}
		}
	}
	return Suggestion{Org: org.ID, Name: name, Companies: ranked}
}

// propose picks the company's contract and a line per pushed catalog
// product (without a pushed catalog no line is guessed). nil when the
// company has no fitting contract.
func (s *Suggestions) propose(ctx context.Context, tenant string, cc CompanyChoice, companyID int64, cat billing.Catalog) (*billing.Mapping, error) {
	contracts, err := s.Pickers.contracts(ctx, tenant, cc.Integration, cc.Client, companyID)
	if err != nil {
		return nil, err
	}
	now := clock.Now
	if s.Now != nil {
		now = s.Now
	}
	ct, ok := billing.ChooseContract(contracts, now())
	if !ok {
		return nil, nil
	}
	p := &billing.Mapping{CompanyID: companyID, ContractID: ct.ID, Lines: []billing.LineMapping{}}
	ids := cat.ServiceIDs()
	if len(ids) == 0 {
		return p, nil
	}
	lines, err := s.Pickers.lines(ctx, tenant, cc.Integration, cc.Client, ct.ID)
	if err != nil {
		return nil, err
	}
	for _, prod := range cat.Products {
		if l, ok := billing.ChooseLine(lines, ids[prod.Key]); ok {
			p.Lines = append(p.Lines, billing.LineMapping{Product: prod.Key, LineID: l.ID})
		}
	}
	return p, nil
}
