// Package schema is the one description of psabridge's DynamoDB table: key
// attributes, the sparse GSI of mapped orgs and the TTL attribute. The store
// creates tables from it (tests, make run) and the CDK stack declares the same
// table from it, so the two cannot drift. It imports nothing from AWS so the
// infra module can use it without pulling the SDK's DynamoDB service in.
package schema

// Attribute names of the keys. All key attributes are strings.
const (
	PartitionKey = "PK"
	SortKey      = "SK"

	// MappedIndex is the sparse GSI listing mapped, enabled orgs for the
	// fan-out. Only org items with an active mapping carry its keys.
	MappedIndex        = "GSI1"
	MappedPartitionKey = "GSI1PK"
	MappedSortKey      = "GSI1SK"

	// TTLAttribute holds an epoch-seconds expiry; DynamoDB deletes expired
	// run entries, alert records and budget windows.
	TTLAttribute = "expiresAt"
)

// MappedShards is how many partitions the mapped-org index is spread over,
// so the fan-out can query segments in parallel and no GSI partition is hot.
const MappedShards = 16

// KeyAttribute is one key attribute of the table or an index.
type KeyAttribute struct {
	Name string
	// Role is "HASH" or "RANGE".
	Role string
}

// Index describes a global secondary index projecting all attributes.
type Index struct {
	Name string
	Keys []KeyAttribute
}

// Table is the table's shape.
type Table struct {
	Keys          []KeyAttribute
	GlobalIndexes []Index
	TTLAttribute  string
}

// Definition returns the table's shape.
func Definition() Table {
	return Table{
		Keys: []KeyAttribute{{PartitionKey, "HASH"}, {SortKey, "RANGE"}},
		GlobalIndexes: []Index{{
			Name: MappedIndex,
			Keys: []KeyAttribute{{MappedPartitionKey, "HASH"}, {MappedSortKey, "RANGE"}},
		}},
		TTLAttribute: TTLAttribute,
	}
}
