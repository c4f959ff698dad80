package app

import (
	"context"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/psa"
)

// MappingReader is what the mapping check reads from a PSA: companies and
// contracts by id in batched reads, and a contract's lines. psa.LineSyncer
// (the sync worker's role) and psa.Client have it.
type MappingReader interface {
	CompaniesByID(ctx context.Context, ids []int64) (map[int64]psa.Company, error)
	ContractsByID(ctx context.Context, ids []int64) (map[int64]psa.Contract, error)
	Lines(ctx context.Context, contractID int64) ([]psa.ServiceLine, error)
}

// LineCheck says whether CheckMappings checks the mapped lines too.
type LineCheck struct {
	// Read reads each mapped contract's lines (one request per contract
	// the PSA has) and checks every mapped line: missing, cancelled, or
	// billing another catalog item than Catalog names. Without it only the
	// company and the contract are checked (the sync checks lines as it
	// reads them).
	Read bool
	// Catalog maps products to the PSA catalog item their line must bill
	// (billing.Catalog.ServiceIDs); nil checks no catalog item.
	Catalog map[billing.Product]int64
}

// MappingCheck is one mapping held against the PSA.
type MappingCheck struct {
	Health billing.Health
	// Names are the company's and contract's names as the PSA has them
	// now ("" for one the PSA lacks).
	Names billing.MappedNames
}

// CheckMappings holds every mapping of maps (by org) against the PSA at
// now: the one mapping check of psabridge, used by the sync worker before a
// run writes (all of a tenant's mappings), by GET …/mapping/health and by
// PUT …/mapping (one mapping). Companies and contracts are read with the
// batched id reads (Autotask ⌈n/500⌉ queries each, ConnectWise ⌈n/200⌉
// lists each), whatever the number of mappings; the verdict is
// billing.CheckMapping's. Errors are the PSA client's, as they are; a
// contract whose lines the PSA does not find has none.
func CheckMappings(ctx context.Context, r MappingReader, maps map[string]billing.Mapping, lc LineCheck, now time.Time) (map[string]MappingCheck, error) {
	out := make(map[string]MappingCheck, len(maps))
	if len(maps) == 0 {
		return out, nil
	}
	var cos, cts []int64
	for _, m := range maps {
		cos = append(cos, m.CompanyID)
		cts = append(cts, m.ContractID)
	}
	companies, err := r.CompaniesByID(ctx, cos)
	if err != nil {
		return nil, err
	}
	contracts, err := r.ContractsByID(ctx, cts)
	if err != nil {
		return nil, err
	}
	lines := map[int64][]psa.ServiceLine{}
	for org, m := range maps {
		v := billing.PSAView{SkipLines: !lc.Read}
		var names billing.MappedNames
		if co, ok := companies[m.CompanyID]; ok {
			v.Company, names.Company = &co, co.Name
		}
		if ct, ok := contracts[m.ContractID]; ok {
			v.Contract, names.Contract = &ct, ct.Name
			if lc.Read {
				ls, read := lines[m.ContractID]
				if !read {
					ls, err = r.Lines(ctx, m.ContractID)
					if err != nil && !apperr.Is(err, apperr.NotFound) {
						return nil, err
					}
					lines[m.ContractID] = ls
				}
				v.Lines = ls
			}
		}
		out[org] = MappingCheck{Health: billing.CheckMapping(m, m.Seen, v, lc.Catalog, now), Names: names}
	}
	return out, nil
}

// refusedMapping lists, in the order they are reported, the problems that
// keep a mapping from being saved: what it names must exist, belong
// together and be in force. A renamed or inactive company, a contract that
// is not recurring or a line billing another catalog item is shown by the
// mapping's health, not refused.
var refusedMapping = []billing.ProblemCode{billing.CompanyGone, billing.ContractGone, billing.ContractOtherCompany,
	billing.ContractCancelled, billing.ContractEnded, billing.LineCancelled, billing.LineMissing}

// CheckNewMapping checks a mapping about to be saved against the PSA at at
// and returns the company's and contract's names as the PSA has them now
// (kept with the mapping to show a later rename). Rejected names the first
// problem of refusedMapping it has; PSA errors as PSAError gives them.
func CheckNewMapping(ctx context.Context, r MappingReader, m billing.Mapping, at time.Time) (billing.MappedNames, error) {
	checked, err := CheckMappings(ctx, r, map[string]billing.Mapping{"": m}, LineCheck{Read: true}, at)
	if err != nil {
		return billing.MappedNames{}, PSAError(err)
	}
	c := checked[""]
	for _, code := range refusedMapping {
		for _, p := range c.Health.Problems {
			if p.Code == code {
				return billing.MappedNames{}, refusal(m, p)
			}
		}
	}
	return c.Names, nil
}

// refusal is the Rejected error of a problem that keeps a mapping from
// being saved.
func refusal(m billing.Mapping, p billing.Problem) error {
	switch p.Code {
	case billing.CompanyGone:
		return apperr.New(apperr.Rejected, "company %d does not exist in the PSA", m.CompanyID)
	case billing.ContractGone:
		return apperr.New(apperr.Rejected, "contract %d does not exist in the PSA", m.ContractID)
	case billing.ContractOtherCompany:
		return apperr.New(apperr.Rejected, "contract %d belongs to another company, not %d", m.ContractID, m.CompanyID)
	case billing.LineMissing:
		return apperr.New(apperr.Rejected, "line %d is not a line of contract %d", p.LineID, m.ContractID)
	}
	return apperr.New(apperr.Rejected, "%s: %s %s", p.Code, p.Message, p.Fix)
}

// PSAError turns a PSA client error into what an admin should see: the PSA
// refusing psabridge's stored credentials is not the caller's
// Unauthorized or Forbidden but Rejected, naming the PSA's reason. Other
// errors as they are.
func PSAError(err error) error {
	switch apperr.CodeOf(err) {
	case apperr.Unauthorized, apperr.Forbidden:
		return &apperr.Error{Code: apperr.Rejected, Message: "the PSA refused psabridge's credentials: " + apperr.MessageOf(err),
			Details: apperr.DetailsOf(err), Err: err}
	}
	return err
}
