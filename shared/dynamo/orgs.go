package dynamo

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// RegisterOrg creates or renames an org. Its mapping, if any, is kept.
func (s *Store) RegisterOrg(ctx context.Context, tenant, org, name string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Table),
		Key:                      key(tenantPK(tenant), orgSK(org)),
		UpdateExpression:         aws.String("SET #n = :n, org = :org, createdAt = if_not_exists(createdAt, :now)"),
		ExpressionAttributeNames: map[string]string{"#n": "name"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n":   &types.AttributeValueMemberS{Value: name},
			":org": &types.AttributeValueMemberS{Value: org},
			":now": &types.AttributeValueMemberS{Value: s.now().UTC().Format(time.RFC3339Nano)},
		},
	})
	return classify(err, "register org")
}

// Org returns one registered org. NotFound when the tenant has no such org
// item (an org known only from usage has none until mapped or registered).
func (s *Store) Org(ctx context.Context, tenant, org string) (billing.Org, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: key(tenantPK(tenant), orgSK(org)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return billing.Org{}, classify(err, "read org")
	}
	if out.Item == nil {
		return billing.Org{}, apperr.New(apperr.NotFound, "org %q not found", org)
	}
	return orgFromItem(out.Item)
}

// Orgs returns a tenant's registered orgs, sorted by id.
func (s *Store) Orgs(ctx context.Context, tenant string) ([]billing.Org, error) {
	var out []billing.Org
	var perr error
	err := s.queryPrefix(ctx, tenantPK(tenant), skOrg, func(item map[string]types.AttributeValue) {
		o, err := orgFromItem(item)
		if err != nil {
			perr = err
			return
		}
		out = append(out, o)
	})
	if err == nil {
		err = perr
	}
	return out, err
}

// OrgsByID reads many orgs with BatchGetItem; missing ones are absent.
func (s *Store) OrgsByID(ctx context.Context, tenant string, ids []string) (map[string]billing.Org, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, key(tenantPK(tenant), orgSK(id)))
		}
	}
	out := make(map[string]billing.Org, len(keys))
	var perr error
	err := s.batchGet(ctx, keys, func(item map[string]types.AttributeValue) {
		o, err := orgFromItem(item)
		if err != nil {
			perr = err
			return
		}
		out[o.ID] = o
	})
	if err == nil {
		err = perr
	}
	return out, err
}

// AnyVersion, passed as ifVersion, writes whatever version is stored.
const AnyVersion int64 = -1

// PutMapping stores an org's mapping with optimistic concurrency: ifVersion
// must equal the stored mapping's version (0 when none is stored), or be
// AnyVersion. The stored version becomes the old one plus one. A mapping in
// state Mapped is listed in the mapped-org index for the fan-out; any
// other state takes it out. The org item is created if the org was known only
// from usage.
//
// Errors: PreconditionFailed when the version is stale.
func (s *Store) PutMapping(ctx context.Context, tenant, org string, m billing.Mapping, ifVersion int64) (billing.Mapping, error) {
	m.UpdatedAt = s.now().UTC()
	if ifVersion == AnyVersion {
		cur, err := s.Org(ctx, tenant, org)
		switch {
		case err == nil && cur.Mapping != nil:
			ifVersion = cur.Mapping.Version
		case err == nil || apperr.Is(err, apperr.NotFound):
			ifVersion = 0
		default:
			return billing.Mapping{}, err
		}
	}
	m.Version = ifVersion + 1
	av, err := attributevalue.MarshalMap(m)
	if err != nil {
		return billing.Mapping{}, apperr.Wrap(err, apperr.Internal, "encode mapping")
	}
	names := map[string]string{"#m": "mapping", "#v": "mappingVersion"}
	values := map[string]types.AttributeValue{
		":m":   &types.AttributeValueMemberM{Value: av},
		":v":   &types.AttributeValueMemberN{Value: strconv.FormatInt(m.Version, 10)},
		":org": &types.AttributeValueMemberS{Value: org},
		":now": &types.AttributeValueMemberS{Value: m.UpdatedAt.Format(time.RFC3339Nano)},
	}
	update := "SET #m = :m, #v = :v, org = :org, createdAt = if_not_exists(createdAt, :now)"
	if m.State == billing.Mapped {
		update += ", #gpk = :gpk, #gsk = :gsk"
		names["#gpk"], names["#gsk"] = schema.MappedPartitionKey, schema.MappedSortKey
		values[":gpk"] = &types.AttributeValueMemberS{Value: mappedShard(tenant, org)}
		values[":gsk"] = &types.AttributeValueMemberS{Value: mappedSK(tenant, org)}
	} else {
		update += " REMOVE #gpk, #gsk"
		names["#gpk"], names["#gsk"] = schema.MappedPartitionKey, schema.MappedSortKey
	}
	cond := "attribute_not_exists(#v)"
	if ifVersion > 0 {
		cond = "#v = :old"
		values[":old"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(ifVersion, 10)}
	}
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key(tenantPK(tenant), orgSK(org)),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if err := classify(err, "save mapping"); err != nil {
		if apperr.Is(err, apperr.Conflict) {
			return billing.Mapping{}, apperr.Wrap(err, apperr.PreconditionFailed, "the mapping was changed by someone else; read it again")
		}
		return billing.Mapping{}, err
	}
	return m, nil
}

// MappedOrg is one entry of the mapped-org index.
type MappedOrg struct {
	Tenant  string
	Org     string
	Mapping billing.Mapping
}

// MappedOrgs calls each for every mapped org in one shard of the index
// (0 ≤ shard < schema.MappedShards), all pages; of one tenant only when
// tenant is not empty (a key-condition prefix, so other tenants' orgs are
// never read). Shards can be read in parallel.
func (s *Store) MappedOrgs(ctx context.Context, shard int, tenant string, each func(MappedOrg) error) error {
	cond := "#pk = :pk"
	names := map[string]string{"#pk": schema.MappedPartitionKey}
	values := map[string]types.AttributeValue{
		":pk": &types.AttributeValueMemberS{Value: "MAPPED#" + strconv.Itoa(shard)}}
	if tenant != "" {
		cond += " AND begins_with(#sk, :prefix)"
		names["#sk"] = schema.MappedSortKey
		values[":prefix"] = &types.AttributeValueMemberS{Value: mappedSK(tenant, "")}
	}
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		IndexName:              aws.String(schema.MappedIndex),
		KeyConditionExpression: aws.String(cond),
		// Only what a MappedOrg holds: the owner, the org and its mapping.
		ProjectionExpression:      projection([]string{schema.PartitionKey, schema.SortKey, "org", "mapping"}, names),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return classify(err, "list mapped orgs")
		}
		for _, item := range page.Items {
			o, err := orgFromItem(item)
			if err != nil {
				return err
			}
			if o.Mapping == nil {
				continue
			}
			owner := strings.TrimPrefix(str(item, schema.PartitionKey), "T#")
			if err := each(MappedOrg{Tenant: owner, Org: o.ID, Mapping: *o.Mapping}); err != nil {
				return err
			}
		}
	}
	return nil
}

func orgFromItem(item map[string]types.AttributeValue) (billing.Org, error) {
	o := billing.Org{
		ID:        str(item, "org"),
		Name:      str(item, "name"),
		CreatedAt: tm(item, "createdAt"),
	}
	if o.ID == "" {
		o.ID = strings.TrimPrefix(str(item, schema.SortKey), skOrg)
	}
	if mv, ok := item["mapping"].(*types.AttributeValueMemberM); ok {
		m, err := mappingFromDoc(mv.Value)
		if err != nil {
			return o, err
		}
		o.Mapping = &m
	}
	return o, nil
}
