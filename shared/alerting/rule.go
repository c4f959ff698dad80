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
// Invalid names the first problem.
func (r *Rule) Validate() error {
	if r.MinSeverity == "" {
		r.MinSeverity = Info
	}
	switch {
	case !r.Type.Known():
		return apperr.New(apperr.Invalid, "unknown alert type %q", r.Type)
	case !r.MinSeverity.Valid():
		return apperr.New(apperr.Invalid, "minSeverity must be info, warning, error or critical")
	case r.DueDays < 0 || r.DueDays > 365:
		return apperr.New(apperr.Invalid, "dueDays must be between 0 and 365")
	case len(r.TitlePrefix) > 50:
		return apperr.New(apperr.Invalid, "titlePrefix must be at most 50 characters")
	case r.CloseOnResolve && r.CompleteStatusID == 0:
		return apperr.New(apperr.Invalid, "closeOnResolve needs completeStatusId")
	case r.QueueID < 0 || r.ResourceID < 0 || r.RoleID < 0 || r.PriorityID < 0 || r.StatusID < 0:
		return apperr.New(apperr.Invalid, "ids must be positive")
	}
	return nil
}
