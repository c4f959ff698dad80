package dynamo

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// PSA request budget: one counter per tenant and hour.
//
//	PK      SK                         item
//	T#<t>   BUDGET#<YYYY-MM-DDTHH>     used (number), expiresAt

const skBudget = "BUDGET#"

func budgetSK(hour time.Time) string { return skBudget + hour.UTC().Format("2006-01-02T15") }

// ReserveBudget takes up to n requests from the tenant's budget of limit
// requests for the hour containing hour, with a conditional UpdateItem that
// never lets the hour's total exceed limit across concurrent workers. It
// returns how many it got: n, fewer when less is left, 0 when none is.
//
// Errors: Transient when DynamoDB is busy, Internal otherwise.
func (s *Store) ReserveBudget(ctx context.Context, tenant string, hour time.Time, n, limit int) (int, error) {
	want := n
	for attempt := 0; attempt < 5 && want > 0; attempt++ {
		_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                aws.String(s.Table),
			Key:                      key(tenantPK(tenant), budgetSK(hour)),
			UpdateExpression:         aws.String("ADD used :n SET #ttl = :ttl"),
			ConditionExpression:      aws.String("attribute_not_exists(used) OR used <= :max"),
			ExpressionAttributeNames: map[string]string{"#ttl": schema.TTLAttribute},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":n":   &types.AttributeValueMemberN{Value: strconv.Itoa(want)},
				":max": &types.AttributeValueMemberN{Value: strconv.Itoa(limit - want)},
				":ttl": &types.AttributeValueMemberN{Value: strconv.FormatInt(hour.Add(48*time.Hour).Unix(), 10)},
			},
		})
		var ccf *types.ConditionalCheckFailedException
		if err == nil {
			return want, nil
		}
		if !errors.As(err, &ccf) {
			return 0, classify(err, "reserve budget")
		}
		used, err := s.BudgetUsed(ctx, tenant, hour)
		if err != nil {
			return 0, err
		}
		want = min(n, limit-used)
	}
	return 0, nil
}

// ReleaseBudget gives back n reserved requests that were not spent.
func (s *Store) ReleaseBudget(ctx context.Context, tenant string, hour time.Time, n int) error {
	if n <= 0 {
		return nil
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key(tenantPK(tenant), budgetSK(hour)),
		UpdateExpression:          aws.String("ADD used :n"),
		ConditionExpression:       aws.String("attribute_exists(used)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: strconv.Itoa(-n)}},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	return classify(err, "release budget")
}

// BudgetUsed returns the requests reserved in the hour containing hour.
func (s *Store) BudgetUsed(ctx context.Context, tenant string, hour time.Time) (int, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table),
		Key: key(tenantPK(tenant), budgetSK(hour)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, classify(err, "read budget")
	}
	return int(num(out.Item, "used")), nil
}
