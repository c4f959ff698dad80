package dynamo

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/dynamo/schema"
	"github.com/psabridge/psabridge/shared/integration"
)

// The sync worker's reads of a batch of orgs, each in one BatchGetItem
// where it used to take several requests: the per-request cost of the SDK
// and the round trip is most of the worker's CPU.

// SyncBatch is what a sync batch of one run starts from.
type SyncBatch struct {
	// Outcomes are the orgs' recorded outcomes in the run; orgs without
	// one are absent.
	Outcomes map[string]OrgOutcomeState
	// Settings are the tenant's billing settings (the defaults when none
	// are stored).
	Settings billing.Settings
	// Orgs are the orgs that exist, with their ID and mapping only (what
	// a sync needs; no name); missing ones are absent.
	Orgs map[string]billing.Org
	// Integration is the tenant's integration, nil when none is stored.
	Integration *integration.Integration
}

// SyncBatch reads, in one strongly consistent BatchGetItem, the orgs'
// outcomes in run runID, the tenant's billing settings, the orgs and the
// tenant's integration: what OrgOutcomes, BillingSettings, OrgsByID and
// Integration return, read together, each item only with the attributes
// these need.
//
// Errors: Transient when DynamoDB is busy, Internal otherwise.
func (s *Store) SyncBatch(ctx context.Context, tenant, runID string, orgs []string) (SyncBatch, error) {
	pk, runPK := tenantPK(tenant), runChildPK(tenant, runID)
	keys := make([]map[string]types.AttributeValue, 0, 2+2*len(orgs))
	keys = append(keys, key(pk, skBillingSettings), key(pk, skIntegration))
	seen := make(map[string]bool, len(orgs))
	for _, o := range orgs {
		if !seen[o] {
			seen[o] = true
			keys = append(keys, key(pk, orgSK(o)), key(runPK, outcomeSK(o)))
		}
	}
	out := SyncBatch{Outcomes: map[string]OrgOutcomeState{}, Settings: billing.DefaultSettings(), Orgs: make(map[string]billing.Org, len(seen))}
	var derr error
	keep := func(err error) {
		if err != nil && derr == nil {
			derr = err
		}
	}
	err := s.batchGetRead(ctx, keys, syncBatchRead, func(item map[string]types.AttributeValue) {
		sk := str(item, schema.SortKey)
		switch {
		case str(item, schema.PartitionKey) == runPK:
			out.Outcomes[strings.TrimPrefix(sk, "O#")] = outcomeFromItem(item)
		case sk == skBillingSettings:
			v, err := decodeDoc(item, &out.Settings)
			out.Settings.Version = v
			keep(err)
		case sk == skIntegration:
			var in integration.Integration
			v, err := decodeDoc(item, &in)
			keep(err)
			if v > 0 {
				in.Version = v
				out.Integration = &in
			}
		case strings.HasPrefix(sk, skOrg):
			o, err := orgFromItem(item)
			keep(err)
			out.Orgs[o.ID] = o
		}
	})
	if err == nil {
		err = derr
	}
	return out, err
}

// syncBatchRead reads the attributes SyncBatch decodes: keys, documents
// and their versions (settings, integration), outcomes, org ids and
// mappings.
var syncBatchRead = readInput{consistent: true, project: []string{schema.PartitionKey, schema.SortKey,
	"doc", "version", "outcome", "final", "resumeAt", "org", "mapping"}}

// lineInputsRead reads the attributes LineInputs decodes: the sort key,
// an HWM's org, product, month and value, a line memory's document.
var lineInputsRead = readInput{project: []string{schema.SortKey, "org", "product", "month", "hwm", "doc"}}

// LineInputs reads, in one BatchGetItem, the month's HWMs of keys and
// their line memories: what HighWaterMarks and LineMemories return, read
// together. Keys without one are absent from each map.
//
// Errors: Transient when DynamoDB is busy, Internal otherwise.
func (s *Store) LineInputs(ctx context.Context, tenant string, month billing.Month, keys []LineKey) (map[LineKey]int64, map[LineKey]billing.LineMemory, error) {
	pk := tenantPK(tenant)
	req := make([]map[string]types.AttributeValue, 0, 2*len(keys))
	seen := make(map[LineKey]bool, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			req = append(req, key(pk, usageSK(string(month), k.Org, string(k.Product))), key(pk, lineSK(k.Org, k.Product)))
		}
	}
	hwms := make(map[LineKey]int64, len(seen))
	mems := make(map[LineKey]billing.LineMemory, len(seen))
	var derr error
	err := s.batchGetRead(ctx, req, lineInputsRead, func(item map[string]types.AttributeValue) {
		if strings.HasPrefix(str(item, schema.SortKey), skUsage) {
			h := hwmFromItem(item)
			hwms[LineKey{Org: h.Org, Product: h.Product}] = h.Value
			return
		}
		k, m, err := lineMemoryFromItem(item)
		if err != nil && derr == nil {
			derr = err
		}
		if err == nil && k.Org != "" {
			mems[k] = m
		}
	})
	if err == nil {
		err = derr
	}
	return hwms, mems, err
}
