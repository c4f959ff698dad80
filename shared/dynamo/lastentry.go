package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// Last entry per org line: the newest run entry of each org line, kept in
// the tenant partition so GET /v1/orgs reads all of them with one Query
// instead of a read per org or per run.
//
//	PK      SK                     item
//	T#<t>   LAST#<org>#<product>   LastEntry under "doc" (TTL: Retention, like the run it names)
//
// PutEntries writes them with a real run's entries (same BatchWriteItem), so
// the worker needs no extra call; a dry run's entries leave them alone. An org-level entry (no product: not
// mapped, no integration) has SK LAST#<org>#.

const skLast = "LAST#"

func lastSK(org string, p billing.Product) string { return skLast + org + "#" + string(p) }

// LastEntry is billing.LastEntry, stored under "doc".
type LastEntry = billing.LastEntry

// lastEntryItems returns the LAST# items of a run's entries.
func (s *Store) lastEntryItems(tenant, runID string, entries []billing.Entry) []map[string]types.AttributeValue {
	items := make([]map[string]types.AttributeValue, 0, len(entries))
	ttl := s.ttl(Retention)
	for _, e := range entries {
		item := key(tenantPK(tenant), lastSK(e.Org, e.Product))
		item["doc"] = &types.AttributeValueMemberM{Value: lastEntryDoc(e, runID)}
		item[schema.TTLAttribute] = ttl
		items = append(items, item)
	}
	return items
}

// LastEntries returns the newest entry of every org line of a tenant that
// a run recorded within Retention, ordered by org and product: one Query
// (paged by DynamoDB only past 1 MB).
//
// Errors: Transient when DynamoDB is busy, Internal otherwise.
func (s *Store) LastEntries(ctx context.Context, tenant string) ([]LastEntry, error) {
	var out []LastEntry
	var derr error
	err := s.queryPrefix(ctx, tenantPK(tenant), skLast, func(item map[string]types.AttributeValue) {
		doc, ok := item["doc"].(*types.AttributeValueMemberM)
		if !ok {
			return
		}
		var e LastEntry
		if err := attributevalue.UnmarshalMap(doc.Value, &e); err != nil {
			derr = apperr.Wrap(err, apperr.Internal, "decode last entry")
			return
		}
		out = append(out, e)
	})
	if err == nil {
		err = derr
	}
	return out, err
}
