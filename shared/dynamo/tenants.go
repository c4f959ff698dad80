package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
)

// Tenant is a provisioned tenant (billing.Tenant).
type Tenant = billing.Tenant

// CreateTenant records a new tenant. Conflict when it exists.
func (s *Store) CreateTenant(ctx context.Context, tenant string) (Tenant, error) {
	t := Tenant{ID: tenant, CreatedAt: s.now().UTC()}
	item := key(tenantPK(tenant), skTenant)
	item["tenant"] = &types.AttributeValueMemberS{Value: tenant}
	item["createdAt"] = &types.AttributeValueMemberS{Value: t.CreatedAt.Format(time.RFC3339Nano)}
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err := classify(err, "create tenant"); err != nil {
		if apperr.Is(err, apperr.Conflict) {
			return Tenant{}, apperr.New(apperr.Conflict, "tenant %q exists", tenant)
		}
		return Tenant{}, err
	}
	return t, nil
}

// Tenant returns a tenant. NotFound when it was never provisioned.
func (s *Store) Tenant(ctx context.Context, tenant string) (Tenant, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: key(tenantPK(tenant), skTenant)})
	if err != nil {
		return Tenant{}, classify(err, "read tenant")
	}
	if out.Item == nil {
		return Tenant{}, apperr.New(apperr.NotFound, "tenant %q not found", tenant)
	}
	return Tenant{ID: str(out.Item, "tenant"), CreatedAt: tm(out.Item, "createdAt")}, nil
}
