package dynamo

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// RecordObservation raises the HWM of (org, product, month of o in loc) to
// o.Value if it is higher, in exactly one DynamoDB request: a conditional
// UpdateItem that succeeds only when the item is new or its hwm is lower. A
// value that does not raise the HWM fails the condition and changes nothing,
// which is success to the caller (raised=false). The org needs no separate
// registration: its usage items make it known.
//
// Errors: Transient when DynamoDB is busy, Internal otherwise.
func (s *Store) RecordObservation(ctx context.Context, tenant string, loc *time.Location, o billing.Observation) (raised bool, err error) {
	month := billing.MonthOf(o.ObservedAt, loc)
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Table),
		Key:                      key(tenantPK(tenant), usageSK(string(month), o.Org, string(o.Product))),
		ConditionExpression:      aws.String("attribute_not_exists(hwm) OR hwm < :v"),
		UpdateExpression:         aws.String("SET hwm = :v, hwmAt = :at, org = :org, product = :p, #m = :m, updatedAt = :now, " + schema.TTLAttribute + " = :ttl"),
		ExpressionAttributeNames: map[string]string{"#m": "month"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":v":   &types.AttributeValueMemberN{Value: strconv.FormatInt(o.Value, 10)},
			":at":  &types.AttributeValueMemberS{Value: o.ObservedAt.UTC().Format(time.RFC3339Nano)},
			":org": &types.AttributeValueMemberS{Value: o.Org},
			":p":   &types.AttributeValueMemberS{Value: string(o.Product)},
			":m":   &types.AttributeValueMemberS{Value: string(month)},
			":now": &types.AttributeValueMemberS{Value: s.now().UTC().Format(time.RFC3339Nano)},
			":ttl": s.ttl(Retention),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, classify(err, "record usage")
	}
	return true, nil
}

// UsageKey addresses one HWM.
type UsageKey struct {
	Org     string
	Product billing.Product
	Month   billing.Month
}

// HighWaterMarks returns the HWMs of keys that exist, with BatchGetItem
// (100 keys a request, unprocessed keys retried).
func (s *Store) HighWaterMarks(ctx context.Context, tenant string, keys []UsageKey) (map[UsageKey]billing.HighWaterMark, error) {
	out := make(map[UsageKey]billing.HighWaterMark, len(keys))
	var reqKeys []map[string]types.AttributeValue
	seen := map[UsageKey]bool{}
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			reqKeys = append(reqKeys, key(tenantPK(tenant), usageSK(string(k.Month), k.Org, string(k.Product))))
		}
	}
	err := s.batchGet(ctx, reqKeys, func(item map[string]types.AttributeValue) {
		h := hwmFromItem(item)
		out[UsageKey{h.Org, h.Product, h.Month}] = h
	})
	return out, err
}

// MonthUsage returns every HWM of a tenant's month (one Query, paged).
func (s *Store) MonthUsage(ctx context.Context, tenant string, month billing.Month) ([]billing.HighWaterMark, error) {
	var out []billing.HighWaterMark
	err := s.queryPrefix(ctx, tenantPK(tenant), usageMonthPrefix(string(month)), func(item map[string]types.AttributeValue) {
		out = append(out, hwmFromItem(item))
	})
	return out, err
}

func hwmFromItem(item map[string]types.AttributeValue) billing.HighWaterMark {
	h := billing.HighWaterMark{
		Org:     str(item, "org"),
		Product: billing.Product(str(item, "product")),
		Month:   billing.Month(str(item, "month")),
		Value:   num(item, "hwm"),
		HWMAt:   tm(item, "hwmAt"),
	}
	if h.Org == "" { // derive from the key if attributes are missing
		parts := strings.SplitN(strings.TrimPrefix(str(item, schema.SortKey), skUsage), "#", 3)
		if len(parts) == 3 {
			h.Month, h.Org, h.Product = billing.Month(parts[0]), parts[1], billing.Product(parts[2])
		}
	}
	return h
}

// Attribute readers for items the store wrote itself; a missing or odd
// attribute reads as the zero value.

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func num(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func tm(item map[string]types.AttributeValue, name string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, str(item, name))
	return t
}
