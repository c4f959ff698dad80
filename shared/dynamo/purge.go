package dynamo

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/psabridge/psabridge/shared/dynamo/schema"
)

// Deleting a tenant's integration ("Disable Integration & Clear Data").
//
// The rule is generic, so item kinds added later are covered without
// touching this file:
//   - in the tenant partition T#<t>, every item is integration data except
//     the tenant record (TENANT) and the usage HWMs (USAGE#…), which are the
//     platform's facts, and the org items (ORG#…), which are reduced to the
//     platform's registration (org, name, createdAt): mapping, versions,
//     index keys and any other attribute go;
//   - an item kind that needs a partition of its own (run entries, say)
//     names it after its parent item: children of (T#<t>, <SK>) live in
//     partition T#<t>#<SK>. Every deleted item's child partition is queried
//     and emptied.
//
// The integration item itself is deleted last, so a purge that fails half
// way is finished by calling it again.

// orgRegistration are the attributes an org item keeps after a purge.
var orgRegistration = map[string]bool{schema.PartitionKey: true, schema.SortKey: true, "org": true, "name": true, "createdAt": true}

// ChildPartition returns the partition key of the children of the tenant
// item with sort key sk (see the purge rule above).
func ChildPartition(tenant, sk string) string { return tenantPK(tenant) + "#" + sk }

// purgeParallelism bounds concurrent child-partition purges.
const purgeParallelism = 8

// DeleteIntegrationData removes all of a tenant's integration data: the
// integration, company types, mappings, billing settings, alert rules, runs
// and their entries, alert records and anything else stored under the
// tenant but the tenant record, usage HWMs and org registrations. Tenant
// B's items are never read. Idempotent. It returns how many items it
// deleted or stripped.
//
// Errors: Transient when DynamoDB is busy (call again), Internal otherwise.
func (s *Store) DeleteIntegrationData(ctx context.Context, tenant string) (int, error) {
	pk := tenantPK(tenant)
	var (
		deletes  []map[string]types.AttributeValue
		strips   []map[string]types.AttributeValue
		children []string
		last     map[string]types.AttributeValue
	)
	err := s.query(ctx, pk, queryInput{consistent: true}, func(item map[string]types.AttributeValue) {
		sk := str(item, schema.SortKey)
		switch {
		case sk == skTenant || strings.HasPrefix(sk, skUsage):
		case strings.HasPrefix(sk, skOrg):
			if needsStrip(item) {
				strips = append(strips, item)
			}
		case sk == skIntegration:
			last = key(pk, sk)
			children = append(children, ChildPartition(tenant, sk))
		default:
			deletes = append(deletes, key(pk, sk))
			children = append(children, ChildPartition(tenant, sk))
		}
	})
	if err != nil {
		return 0, err
	}
	// Every child partition is purged, even after one fails; the first
	// error is returned.
	n := 0
	var mu sync.Mutex // guards n
	var g errgroup.Group
	g.SetLimit(purgeParallelism)
	for _, child := range children {
		g.Go(func() error {
			var keys []map[string]types.AttributeValue
			err := s.query(ctx, child, queryInput{project: []string{schema.PartitionKey, schema.SortKey}, consistent: true}, func(item map[string]types.AttributeValue) {
				keys = append(keys, key(child, str(item, schema.SortKey)))
			})
			if err == nil {
				err = s.batchDelete(ctx, keys)
			}
			mu.Lock()
			n += len(keys)
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return n, err
	}
	if err := s.batchDelete(ctx, deletes); err != nil {
		return n, err
	}
	n += len(deletes)
	for _, item := range strips {
		if err := s.stripOrg(ctx, item); err != nil {
			return n, err
		}
		n++
	}
	if last != nil {
		if _, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Table), Key: last}); err != nil {
			return n, classify(err, "delete integration")
		}
		n++
	}
	return n, nil
}

func needsStrip(item map[string]types.AttributeValue) bool {
	for name := range item {
		if !orgRegistration[name] {
			return true
		}
	}
	return false
}

// stripOrg removes every attribute of an org item but its registration.
func (s *Store) stripOrg(ctx context.Context, item map[string]types.AttributeValue) error {
	names := map[string]string{}
	var remove []string
	for name := range item {
		if !orgRegistration[name] {
			ph := "#r" + strconv.Itoa(len(remove))
			names[ph] = name
			remove = append(remove, ph)
		}
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Table),
		Key:                      key(str(item, schema.PartitionKey), str(item, schema.SortKey)),
		UpdateExpression:         aws.String("REMOVE " + strings.Join(remove, ", ")),
		ExpressionAttributeNames: names,
	})
	return classify(err, "clear org mapping")
}
