package billing

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/psa"
)

// ProblemCode names a mapping problem. The codes are stable: run entries,
// the API and the README table use them.
type ProblemCode string

// The mapping problems.
const (
	CompanyGone          ProblemCode = "company_gone"
	CompanyInactive      ProblemCode = "company_inactive"
	CompanyRenamed       ProblemCode = "company_renamed"
	ContractGone         ProblemCode = "contract_gone"
	ContractOtherCompany ProblemCode = "contract_other_company"
	ContractCancelled    ProblemCode = "contract_cancelled"
	ContractEnded        ProblemCode = "contract_ended"
	ContractNotRecurring ProblemCode = "contract_not_recurring"
	LineMissing          ProblemCode = "line_missing"
	LineCancelled        ProblemCode = "line_cancelled"
	ProductMismatch      ProblemCode = "product_mismatch"
)

// Severity says whether a problem stops the sync.
type Severity string

// The severities.
const (
	// SeverityError: nothing is written to what the problem concerns.
	SeverityError Severity = "error"
	// SeverityWarning: shown to the admin; the sync goes on (a renamed
	// company is still the same company: mappings hold PSA ids).
	SeverityWarning Severity = "warning"
)

// Problem is one thing wrong with a mapping, identified by PSA ids.
type Problem struct {
	Code     ProblemCode `json:"code" dynamodbav:"Code"`
	Severity Severity    `json:"severity" dynamodbav:"Severity"`
	// Product is set for a line problem; "" concerns the whole mapping.
	Product    Product `json:"product,omitempty" dynamodbav:"Product"`
	CompanyID  int64   `json:"companyId,omitempty" dynamodbav:"CompanyID"`
	ContractID int64   `json:"contractId,omitempty" dynamodbav:"ContractID"`
	LineID     int64   `json:"lineId,omitempty" dynamodbav:"LineID"`
	// Message says what is wrong, Fix what the admin should do.
	Message string `json:"message" dynamodbav:"Message"`
	Fix     string `json:"fix" dynamodbav:"Fix"`
	// Before and After are the old and new names of a rename.
	Before string `json:"before,omitempty" dynamodbav:"Before"`
	After  string `json:"after,omitempty" dynamodbav:"After"`
}

// HealthStatus sums up a mapping's problems.
type HealthStatus string

// The health statuses.
const (
	HealthOK      HealthStatus = "ok"
	HealthWarning HealthStatus = "warning"
	HealthBroken  HealthStatus = "broken"
)

// Health is the result of checking a mapping against the PSA.
type Health struct {
	Status    HealthStatus `json:"status" dynamodbav:"Status"`
	Problems  []Problem    `json:"problems" dynamodbav:"Problems"`
	CheckedAt time.Time    `json:"checkedAt" dynamodbav:"CheckedAt"`
}

// Blocks reports whether a problem of severity error concerns product's
// line: the sync must not write it.
func (h Health) Blocks(product Product) bool {
	return slices.ContainsFunc(h.Problems, func(p Problem) bool {
		return p.Severity == SeverityError && (p.Product == "" || p.Product == product)
	})
}

// Codes returns the problem codes, in order.
func (h Health) Codes() []ProblemCode {
	out := make([]ProblemCode, len(h.Problems))
	for i, p := range h.Problems {
		out[i] = p.Code
	}
	return out
}

// MappedNames are the PSA names seen when the mapping was saved, kept to
// show a rename (old → new). They are display only: mappings hold ids.
type MappedNames struct {
	Company  string `json:"company,omitempty" dynamodbav:"Company"`
	Contract string `json:"contract,omitempty" dynamodbav:"Contract"`
}

// PSAView is what the PSA says about a mapping's company, contract and
// lines. A nil Company or Contract means the PSA answered NotFound.
type PSAView struct {
	Company  *psa.Company
	Contract *psa.Contract
	// Lines are the contract's lines (psa.Client.Lines); a line absent
	// here is missing (ConnectWise leaves cancelled additions out).
	Lines []psa.ServiceLine
	// SkipLines leaves the lines unchecked (a tenant-wide check reads
	// companies and contracts only; the sync checks lines as it reads them).
	SkipLines bool
}

// CheckMapping holds a mapping against the PSA's view at time at and
// returns its health. catalog maps products to the PSA catalog item their
// line must bill (Catalog.ServiceIDs); a product absent from it is not
// checked for a mismatch. Line problems are checked only when the contract
// is there.
func CheckMapping(m Mapping, seen MappedNames, v PSAView, catalog map[Product]int64, at time.Time) Health {
	h := Health{Problems: []Problem{}, CheckedAt: at}
	add := func(p Problem) {
		if p.Severity == "" {
			p.Severity = SeverityError
		}
		h.Problems = append(h.Problems, p)
	}
	co, ct := m.CompanyID, m.ContractID
	switch c := v.Company; {
	case c == nil:
		add(Problem{Code: CompanyGone, CompanyID: co,
			Message: fmt.Sprintf("The PSA has no company %d%s any more.", co, quoted(seen.Company)),
			Fix:     "Map the org to the company that now stands for it."})
	case !c.Active:
		add(Problem{Code: CompanyInactive, CompanyID: co,
			Message: fmt.Sprintf("Company %d%s is inactive in the PSA.", co, quoted(c.Name)),
			Fix:     "Reactivate the company in the PSA, or map the org to another company."})
	}
	if c := v.Company; c != nil && seen.Company != "" && strings.TrimSpace(c.Name) != strings.TrimSpace(seen.Company) {
		add(Problem{Code: CompanyRenamed, Severity: SeverityWarning, CompanyID: co, Before: seen.Company, After: c.Name,
			Message: fmt.Sprintf("Company %d was renamed from %q to %q.", co, seen.Company, c.Name),
			Fix:     "Check that it is still this org's company; saving the mapping again accepts the new name."})
	}
	c := v.Contract
	if c == nil {
		add(Problem{Code: ContractGone, ContractID: ct,
			Message: fmt.Sprintf("The PSA has no contract %d%s any more.", ct, quoted(seen.Contract)),
			Fix:     "Choose the company's current recurring contract in the mapping."})
		return h.sum()
	}
	if c.CompanyID != 0 && c.CompanyID != co {
		add(Problem{Code: ContractOtherCompany, CompanyID: co, ContractID: ct,
			Message: fmt.Sprintf("Contract %d%s belongs to company %d, not to the mapped company %d.", ct, quoted(c.Name), c.CompanyID, co),
			Fix:     "Choose a contract of the mapped company, or map the org to the contract's company."})
	}
	if !c.Active {
		add(contractCancelled(ct, c.Name))
	}
	if ended(c.EndDate, at) {
		add(contractEnded(ct, fmt.Sprintf("Contract %d%s ended on %s.", ct, quoted(c.Name), c.EndDate.UTC().Format(time.DateOnly))))
	}
	if !c.Recurring {
		add(Problem{Code: ContractNotRecurring, ContractID: ct,
			Message: fmt.Sprintf("Contract %d%s is not a recurring-service contract, so it cannot carry billed lines.", ct, quoted(c.Name)),
			Fix:     "Choose a recurring-service contract (Autotask) or a recurring agreement (ConnectWise)."})
	}
	if v.SkipLines {
		return h.sum()
	}
	for _, lm := range m.Lines {
		var line *psa.ServiceLine
		if i := slices.IndexFunc(v.Lines, func(l psa.ServiceLine) bool { return l.ID == lm.LineID }); i >= 0 {
			line = &v.Lines[i]
		}
		if p := CheckLine(m, lm, line, catalog); p != nil {
			add(*p)
		}
	}
	return h.sum()
}

// CheckLine checks one mapped line against the PSA's line (nil when the
// contract has no such line): missing, cancelled, or billing another
// catalog item than the product's (catalog as in CheckMapping). nil when
// the line is fine.
func CheckLine(m Mapping, lm LineMapping, l *psa.ServiceLine, catalog map[Product]int64) *Problem {
	ct := m.ContractID
	switch {
	case l == nil:
		return &Problem{Code: LineMissing, Severity: SeverityError, Product: lm.Product, ContractID: ct, LineID: lm.LineID,
			Message: fmt.Sprintf("Contract %d has no line %d for %s (deleted or cancelled).", ct, lm.LineID, lm.Product),
			Fix:     "Choose the contract's line for this product, or add one in the PSA."}
	case l.Cancelled:
		return &Problem{Code: LineCancelled, Severity: SeverityError, Product: lm.Product, ContractID: ct, LineID: l.ID,
			Message: fmt.Sprintf("Line %d%s of contract %d is cancelled.", l.ID, quoted(l.Name), ct),
			Fix:     "Choose an active line for this product."}
	}
	if want, ok := catalog[lm.Product]; ok && want != 0 && l.ServiceID != want {
		return &Problem{Code: ProductMismatch, Severity: SeverityError, Product: lm.Product, ContractID: ct, LineID: l.ID,
			Message: fmt.Sprintf("Line %d%s bills PSA product %d, but %s is catalog product %d.", l.ID, quoted(l.Name), l.ServiceID, lm.Product, want),
			Fix:     "Choose the line that bills the catalog product, or change the line's product in the PSA."}
	}
	return nil
}

// CheckLineState checks a line as the sync read it (psa.LineSyncer.ReadLines):
// its contract cancelled or ended as the line reports it, then as
// CheckLine (the line cancelled, or billing another catalog item). nil when
// the line may be written.
func CheckLineState(m Mapping, lm LineMapping, st psa.LineState, catalog map[Product]int64) *Problem {
	var p Problem
	switch ct := m.ContractID; {
	case st.ContractCancelled:
		p = contractCancelled(ct, "")
	case st.ContractEnded:
		p = contractEnded(ct, fmt.Sprintf("Contract %d has expired.", ct))
	default:
		return CheckLine(m, lm, &psa.ServiceLine{ID: st.Ref.LineID, ContractID: st.Ref.ContractID, ServiceID: st.ServiceID, Cancelled: st.Cancelled}, catalog)
	}
	p.Severity = SeverityError
	return &p
}

func contractCancelled(ct int64, name string) Problem {
	return Problem{Code: ContractCancelled, ContractID: ct,
		Message: fmt.Sprintf("Contract %d%s is cancelled or inactive.", ct, quoted(name)),
		Fix:     "Choose an active contract, or reactivate this one in the PSA."}
}

func contractEnded(ct int64, message string) Problem {
	return Problem{Code: ContractEnded, ContractID: ct, Message: message,
		Fix: "Renew or extend the contract in the PSA, or choose the current one."}
}

// sum sets the status from the problems.
func (h Health) sum() Health {
	h.Status = HealthOK
	for _, p := range h.Problems {
		if p.Severity == SeverityError {
			h.Status = HealthBroken
			break
		}
		h.Status = HealthWarning
	}
	return h
}

// ended reports whether a contract whose last day is end has ended at at.
// PSAs give end dates as days (midnight UTC); the last day counts in full.
func ended(end, at time.Time) bool {
	if end.IsZero() {
		return false
	}
	y, m, d := end.UTC().Date()
	return !at.Before(time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC))
}

// quoted renders a display name after an id: ` ("Acme")`, or nothing.
func quoted(name string) string {
	if strings.TrimSpace(name) == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", name)
}

// RunHealth is the mapping health of a tenant's mapped orgs as a run found
// it before writing: the problems of the orgs that have any (orgs covered
// and absent are healthy). An org whose mapping changed after CheckedAt is
// not covered.
type RunHealth struct {
	CheckedAt time.Time         `json:"checkedAt" dynamodbav:"CheckedAt"`
	Orgs      map[string]Health `json:"orgs" dynamodbav:"Orgs"`
	// Truncated is set when problems of more orgs than MaxHealthOrgs were
	// found: orgs with problems may be missing from Orgs, so an org absent
	// from it is not known to be healthy.
	Truncated bool `json:"truncated,omitempty" dynamodbav:"Truncated"`
}

// MaxHealthOrgs bounds the orgs with problems a RunHealth item holds, so it
// stays well under DynamoDB's 400 KB.
const MaxHealthOrgs = 400

// Covers reports whether the snapshot says anything about org, whose
// mapping was last saved at mappedAt, and its health if so.
func (h RunHealth) Covers(org string, mappedAt time.Time) (Health, bool) {
	if h.CheckedAt.IsZero() || mappedAt.After(h.CheckedAt) {
		return Health{}, false
	}
	if got, ok := h.Orgs[org]; ok {
		return got, true
	}
	if h.Truncated {
		return Health{}, false
	}
	return Health{Status: HealthOK, Problems: []Problem{}, CheckedAt: h.CheckedAt}, true
}
