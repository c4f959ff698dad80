// Package dynamo is psabridge's single-table store in DynamoDB.
//
// Key scheme (every partition key starts with T#<tenant>, so an IAM
// dynamodb:LeadingKeys condition can confine a tenant):
//
//	PK              SK                                 item
//	T#<t>           TENANT                             tenant record
//	T#<t>           ORG#<org>                          org + its mapping (GSI1 keys while mapped)
//	T#<t>           USAGE#<YYYY-MM>#<org>#<product>    monthly high-water mark
//
// Other files of this package add their items to the same scheme, each with
// its key builders. The table's shape is in package schema.
//
// The layout is pinned: every struct stored as a document names its
// attributes with dynamodbav tags (today's names are the Go field names, so
// renaming a field must keep its tag), and testdata/layout holds one golden
// item set per item kind (TestLayout) that fails on any rename.
package dynamo

import (
	"context"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/awserr"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// Store is the DynamoDB store. Safe for concurrent use.
type Store struct {
	DB    *dynamodb.Client
	Table string
	// Now is the clock (default clock.Now).
	Now func() time.Time
}

// New returns a Store over table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{DB: db, Table: table, Now: clock.Now}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return clock.Now()
}

// CreateTable creates a table of schema.Definition() with on-demand billing
// and TTL enabled, and waits until it is active. Used by tests and `make run`;
// the CDK stack declares the same shape.
func CreateTable(ctx context.Context, db *dynamodb.Client, table string) error {
	def := schema.Definition()
	attrs := map[string]bool{}
	keys := func(ks []schema.KeyAttribute) []types.KeySchemaElement {
		out := make([]types.KeySchemaElement, len(ks))
		for i, k := range ks {
			attrs[k.Name] = true
			out[i] = types.KeySchemaElement{AttributeName: aws.String(k.Name), KeyType: types.KeyType(k.Role)}
		}
		return out
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   keys(def.Keys),
	}
	for _, gsi := range def.GlobalIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(gsi.Name),
			KeySchema:  keys(gsi.Keys),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	for name := range attrs {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS})
	}
	if _, err := db.CreateTable(ctx, in); err != nil {
		var inUse *types.ResourceInUseException
		if !errors.As(err, &inUse) {
			return err
		}
	}
	if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, time.Minute); err != nil {
		return err
	}
	_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(def.TTLAttribute), Enabled: aws.Bool(true)},
	})
	if err != nil && !isTTLAlreadyEnabled(err) {
		return err
	}
	return nil
}

func isTTLAlreadyEnabled(err error) bool {
	var ve interface{ ErrorMessage() string }
	return errors.As(err, &ve) && strings.Contains(ve.ErrorMessage(), "already enabled")
}

// Key builders. One place per item kind.

func tenantPK(tenant string) string { return "T#" + tenant }

const (
	skTenant = "TENANT"
	skOrg    = "ORG#"
	skUsage  = "USAGE#"
)

func orgSK(org string) string { return skOrg + org }

func usageSK(month, org, product string) string {
	return skUsage + month + "#" + org + "#" + product
}

func usageMonthPrefix(month string) string { return skUsage + month + "#" }

// mappedShard spreads mapped orgs over schema.MappedShards GSI partitions.
func mappedShard(tenant, org string) string {
	h := fnv.New32a()
	h.Write([]byte(tenant + "#" + org))
	return "MAPPED#" + strconv.Itoa(int(h.Sum32()%schema.MappedShards))
}

func mappedSK(tenant, org string) string { return "T#" + tenant + "#O#" + org }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		schema.PartitionKey: &types.AttributeValueMemberS{Value: pk},
		schema.SortKey:      &types.AttributeValueMemberS{Value: sk},
	}
}

// ttl returns the epoch-seconds expiry of an item kept for d from now.
func (s *Store) ttl(d time.Duration) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(s.now().Add(d).Unix(), 10)}
}

// Retention is how long run entries and alert records are kept.
const Retention = 13 * 31 * 24 * time.Hour

// classify maps SDK errors to the error vocabulary: conditional failures to
// conflict, a transaction cancelled for other reasons (a conflicting
// transaction, throttling) to transient, and everything else as package
// awserr decides (transport errors, timeouts, throttling, 5xx: transient).
func classify(err error, op string) error {
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return apperr.Wrap(err, apperr.Conflict, "%s: the item changed meanwhile", op)
	}
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return apperr.Wrap(err, apperr.Conflict, "%s: the item changed meanwhile", op)
			}
		}
		return apperr.Wrap(err, apperr.Transient, "%s: storage is busy", op)
	}
	if awserr.IsTransient(err) {
		return apperr.Wrap(err, apperr.Transient, "%s: storage is busy", op)
	}
	return apperr.Wrap(err, apperr.Internal, "%s failed", op)
}
