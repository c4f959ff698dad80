package dynamo

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
)

// Versioned documents: small per-tenant settings items (billing settings,
// integration, alert rules…) stored whole under attribute "doc" with a
// "version" that guards every read-modify-write.

const skBillingSettings = "SETTINGS#BILLING"

// getDoc reads the document at (pk, sk) into v and returns its version, or
// 0 when there is none (v untouched).
func (s *Store) getDoc(ctx context.Context, pk, sk string, v any) (int64, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, classify(err, "read")
	}
	return decodeDoc(out.Item, v)
}

// decodeDoc decodes a versioned document's item (nil: none stored) into v
// and returns its version, 0 when there is none (v untouched).
func decodeDoc(item map[string]types.AttributeValue, v any) (int64, error) {
	if item == nil {
		return 0, nil
	}
	if doc, ok := item["doc"].(*types.AttributeValueMemberM); ok {
		if err := attributevalue.UnmarshalMap(doc.Value, v); err != nil {
			return 0, apperr.Wrap(err, apperr.Internal, "decode stored document")
		}
	}
	return num(item, "version"), nil
}

// putDoc writes v at (pk, sk) if the stored version is ifVersion (0: none
// stored; AnyVersion: no check) and returns the new version. extra adds
// attributes to the item (e.g. a TTL).
//
// Errors: PreconditionFailed when the version is stale.
func (s *Store) putDoc(ctx context.Context, pk, sk string, v any, ifVersion int64, extra map[string]types.AttributeValue) (int64, error) {
	doc, err := attributevalue.MarshalMap(v)
	if err != nil {
		return 0, apperr.Wrap(err, apperr.Internal, "encode document")
	}
	if ifVersion == AnyVersion {
		var cur map[string]any
		if ifVersion, err = s.getDoc(ctx, pk, sk, &cur); err != nil {
			return 0, err
		}
	}
	item := key(pk, sk)
	item["doc"] = &types.AttributeValueMemberM{Value: doc}
	item["version"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(ifVersion+1, 10)}
	for k, av := range extra {
		item[k] = av
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item}
	if ifVersion == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(version)")
	} else {
		in.ConditionExpression = aws.String("version = :v")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{
			":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(ifVersion, 10)}}
	}
	if _, err := s.DB.PutItem(ctx, in); err != nil {
		err = classify(err, "write")
		if apperr.Is(err, apperr.Conflict) {
			return 0, apperr.Wrap(err, apperr.PreconditionFailed, "changed by someone else; read it again")
		}
		return 0, err
	}
	return ifVersion + 1, nil
}

// BillingSettings returns a tenant's billing settings, the defaults when
// none are stored.
func (s *Store) BillingSettings(ctx context.Context, tenant string) (billing.Settings, error) {
	set := billing.DefaultSettings()
	v, err := s.getDoc(ctx, tenantPK(tenant), skBillingSettings, &set)
	set.Version = v
	return set, err
}

// PutBillingSettings stores billing settings if ifVersion matches
// (0 when none were stored, AnyVersion to skip the check) and returns them
// with the new version. PreconditionFailed when stale.
func (s *Store) PutBillingSettings(ctx context.Context, tenant string, set billing.Settings, ifVersion int64) (billing.Settings, error) {
	v, err := s.putDoc(ctx, tenantPK(tenant), skBillingSettings, set, ifVersion, nil)
	set.Version = v
	return set, err
}
