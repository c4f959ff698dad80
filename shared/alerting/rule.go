// Package alerting holds psabridge's alert rules: platform alerts, the
// tenant's ticket rule per alert type, and the decision to skip, open, note
// or close a PSA ticket. It is pure: no AWS, no HTTP.
package alerting

import (
	"slices"

	"github.com/psabridge/psabridge/shared/apperr"
)

// Type is an alert type, e.g. "user_lockout".
type Type string

// The alert types a rule can be configured for.
const (
	DiskEncryptionKeyDecrypted Type = "disk_encryption_key_decrypted"
	UserAdminAccessGranted     Type = "user_admin_access_granted"
	UserLockout                Type = "user_lockout"
	UserPasswordExpired        Type = "user_password_expired"
	BackupFailed               Type = "backup_failed"
)

// KnownTypes lists the configurable alert types. Alerts of other types are
// stored and acknowledged but never ticketed.
var KnownTypes = []Type{DiskEncryptionKeyDecrypted, UserAdminAccessGranted, UserLockout, UserPasswordExpired, BackupFailed}

// Known reports whether t is a configurable alert type.
func (t Type) Known() bool { return slices.Contains(KnownTypes, t) }

// Severity orders alerts.
type Severity string

// The severities, lowest first.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Error    Severity = "error"
	Critical Severity = "critical"
)

var severityRank = map[Severity]int{Info: 1, Warning: 2, Error: 3, Critical: 4}

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool { return severityRank[s] > 0 }

// AtLeast reports whether s is at least min.
func (s Severity) AtLeast(min Severity) bool { return severityRank[s] >= severityRank[min] }

// Rule is a tenant's ticket rule for one alert type. Ids are PSA picklist or
// lookup ids of the tenant's PSA (never assumed: validated against the PSA's
// ticket options when saved). Zero ids are left for the PSA to default.
type Rule struct {
	Type        Type     `json:"alertType" dynamodbav:"Type"`
	Enabled     bool     `json:"enabled" dynamodbav:"Enabled"`
	PriorityID  int64    `json:"priorityId" dynamodbav:"PriorityID"`
	StatusID    int64    `json:"statusId" dynamodbav:"StatusID"`
	SourceID    int64    `json:"sourceId,omitempty" dynamodbav:"SourceID"`
	QueueID     int64    `json:"queueId,omitempty" dynamodbav:"QueueID"`
	ResourceID  int64    `json:"resourceId,omitempty" dynamodbav:"ResourceID"`
	RoleID      int64    `json:"roleId,omitempty" dynamodbav:"RoleID"`
	BoardID     int64    `json:"boardId,omitempty" dynamodbav:"BoardID"`
	CategoryID  int64    `json:"categoryId,omitempty" dynamodbav:"CategoryID"`
	IssueTypeID int64    `json:"issueTypeId,omitempty" dynamodbav:"IssueTypeID"`
	DueDays     int      `json:"dueDays" dynamodbav:"DueDays"`
	TitlePrefix string   `json:"titlePrefix" dynamodbav:"TitlePrefix"`
	MinSeverity Severity `json:"minSeverity" dynamodbav:"MinSeverity"`
	// CloseOnResolve closes the ticket with CompleteStatusID when the alert
	// resolves.
	CloseOnResolve   bool  `json:"closeOnResolve" dynamodbav:"CloseOnResolve"`
	CompleteStatusID int64 `json:"completeStatusId,omitempty" dynamodbav:"CompleteStatusID"`
	Version          int64 `json:"version" dynamodbav:"Version"`
}

// Validate checks a rule's shape (not its ids against the PSA).
// Invalid lists every problem, one apperr.FieldError per field.
func (r *Rule) Validate() error {
	if r.MinSeverity == "" {
		r.MinSeverity = Info
	}
	var p apperr.Problems
	if !r.Type.Known() {
		p.Add("type", "unknown alert type %q", r.Type)
	}
	if !r.MinSeverity.Valid() {
		p.Add("minSeverity", "minSeverity must be info, warning, error or critical")
	}
	if r.DueDays < 0 || r.DueDays > 365 {
		p.Add("dueDays", "dueDays must be between 0 and 365")
	}
	if len(r.TitlePrefix) > 50 {
		p.Add("titlePrefix", "titlePrefix must be at most 50 characters")
	}
	if r.CloseOnResolve && r.CompleteStatusID == 0 {
		p.Add("completeStatusId", "closeOnResolve needs completeStatusId")
	}
	for _, id := range []struct {
		field string
		v     int64
	}{{"queueId", r.QueueID}, {"resourceId", r.ResourceID}, {"roleId", r.RoleID}, {"priorityId", r.PriorityID}, {"statusId", r.StatusID}} {
		if id.v < 0 {
			p.Add(id.field, "%s must be positive", id.field)
		}
	}
	return p.Err()
}
