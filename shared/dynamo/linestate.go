package dynamo

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// Line memory: what the sync last wrote to and read from each org line.
//
//	PK      SK                         item
//	T#<t>   LINE#<org>#<product>       billing.LineMemory under "doc"

const skLine = "LINE#"

func lineSK(org string, p billing.Product) string { return skLine + org + "#" + string(p) }

// LineKey addresses one org line.
type LineKey = billing.LineKey

// LineMemories returns the memories of keys that have one (BatchGetItem).
func (s *Store) LineMemories(ctx context.Context, tenant string, keys []LineKey) (map[LineKey]billing.LineMemory, error) {
	req := make([]map[string]types.AttributeValue, 0, len(keys))
	seen := map[LineKey]bool{}
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			req = append(req, key(tenantPK(tenant), lineSK(k.Org, k.Product)))
		}
	}
	out := make(map[LineKey]billing.LineMemory, len(req))
	var derr error
	err := s.batchGet(ctx, req, func(item map[string]types.AttributeValue) {
		k, m, err := lineMemoryFromItem(item)
		if err != nil && derr == nil {
			derr = err
		}
		if err == nil && k.Org != "" {
			out[k] = m
		}
	})
	if err == nil {
		err = derr
	}
	return out, err
}

// lineMemoryFromItem decodes a LINE# item; an item without a document or
// with an odd key has an empty key.
func lineMemoryFromItem(item map[string]types.AttributeValue) (LineKey, billing.LineMemory, error) {
	rest := strings.TrimPrefix(str(item, schema.SortKey), skLine)
	i := strings.LastIndex(rest, "#")
	doc, ok := item["doc"].(*types.AttributeValueMemberM)
	if i < 0 || !ok {
		return LineKey{}, billing.LineMemory{}, nil
	}
	m, err := lineMemoryFromDoc(doc.Value)
	return LineKey{Org: rest[:i], Product: billing.Product(rest[i+1:])}, m, err
}

// PutLineMemories stores memories (BatchWriteItem), replacing older ones.
func (s *Store) PutLineMemories(ctx context.Context, tenant string, mems map[LineKey]billing.LineMemory) error {
	items := make([]map[string]types.AttributeValue, 0, len(mems))
	for k, m := range mems {
		item := key(tenantPK(tenant), lineSK(k.Org, k.Product))
		item["doc"] = &types.AttributeValueMemberM{Value: lineMemoryDoc(m)}
		items = append(items, item)
	}
	return s.batchPut(ctx, items)
}
