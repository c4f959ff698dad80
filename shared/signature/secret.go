package signature

import "time"

// Secret is one of a tenant's platform signing secrets. Several are valid at
// once while a rotation is under way; Value is shown once, when created.
type Secret struct {
	ID        string    `json:"id"`
	Value     string    `json:"value"`
	CreatedAt time.Time `json:"createdAt"`
}
