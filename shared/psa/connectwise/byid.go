package connectwise

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/psabridge/psabridge/shared/psa"
)

// byIDChunk bounds the ids of one "id in (…)" condition, so the request
// line stays far below the URL lengths servers and proxies accept.
const byIDChunk = 200

// idIn renders the condition `id in (1,2,3)`.
func idIn(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return "id in (" + strings.Join(s, ",") + ")"
}

// CompaniesByID reads the companies of ids, deleted or not: one list per
// 200 ids.
func (c *Client) CompaniesByID(ctx context.Context, ids []int64) (map[int64]psa.Company, error) {
	out := make(map[int64]psa.Company, len(ids))
	for chunk := range slices.Chunk(psa.DistinctIDs(ids), byIDChunk) {
		rows, err := getAll[companyRow](ctx, c, "company/companies", url.Values{"fields": {companyFields}, "conditions": {idIn(chunk)}})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.ID] = r.company()
		}
	}
	return out, nil
}

// ContractsByID reads the agreements of ids, cancelled or not: one list
// per 200 ids.
func (c *Client) ContractsByID(ctx context.Context, ids []int64) (map[int64]psa.Contract, error) {
	out := make(map[int64]psa.Contract, len(ids))
	for chunk := range slices.Chunk(psa.DistinctIDs(ids), byIDChunk) {
		rows, err := getAll[agreementRow](ctx, c, "finance/agreements", url.Values{"fields": {agreementFields}, "conditions": {idIn(chunk)}})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.ID] = r.contract()
		}
	}
	return out, nil
}
