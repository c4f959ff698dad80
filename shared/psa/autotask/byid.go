package autotask

import (
	"context"
	"slices"

	"github.com/psabridge/psabridge/shared/psa"
)

// CompaniesByID reads the companies of ids, active or not: ⌈ids/500⌉
// Companies queries (id in […]).
func (c *Client) CompaniesByID(ctx context.Context, ids []int64) (map[int64]psa.Company, error) {
	out := make(map[int64]psa.Company, len(ids))
	for chunk := range slices.Chunk(psa.DistinctIDs(ids), MaxRecords) {
		rows, err := query[company](ctx, c, "Companies", companyFields, in("id", chunk))
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.ID] = r.toPSA()
		}
	}
	return out, nil
}

// ContractsByID reads the contracts of ids, of any type and status:
// ⌈ids/500⌉ Contracts queries (id in […]) and the contract picklists
// (cached by the client).
func (c *Client) ContractsByID(ctx context.Context, ids []int64) (map[int64]psa.Contract, error) {
	out := make(map[int64]psa.Contract, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	recurring, err := c.pickByLabel(ctx, "Contracts", "contractType", labelRecurringService)
	if err != nil {
		return nil, err
	}
	active, err := c.pickByLabel(ctx, "Contracts", "status", labelActive)
	if err != nil {
		return nil, err
	}
	for chunk := range slices.Chunk(psa.DistinctIDs(ids), MaxRecords) {
		rows, err := query[contract](ctx, c, "Contracts", nil, in("id", chunk))
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.ID] = r.toPSA(recurring, active)
		}
	}
	return out, nil
}
