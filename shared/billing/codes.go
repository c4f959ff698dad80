package billing

// Code is a run entry's stable code. The values appear in the API, in CSV
// exports and in the README's code table (a test keeps it complete).
type Code string

// The entry codes.
const (
	CodeUpdated         Code = "updated"
	CodeUnchanged       Code = "unchanged"
	CodeWouldUpdate     Code = "would_update"
	CodeDriftCorrected  Code = "drift_corrected"
	CodeWouldCorrect    Code = "would_correct_drift"
	CodeNoUsage         Code = "no_usage"
	CodeNoUsageZeroed   Code = "no_usage_zeroed"
	CodeNotMapped       Code = "not_mapped"
	CodeLineMissing     Code = "line_missing"
	CodeNoIntegration   Code = "integration_missing"
	CodePSARejected     Code = "psa_rejected"
	CodePSAUnauthorized Code = "psa_unauthorized"
	CodePSAForbidden    Code = "psa_forbidden"
	CodePSAUnavailable  Code = "psa_unavailable"
	CodeDeferred        Code = "deferred"
	CodeInternal        Code = "internal_error"
	CodeLineCreated     Code = "line_created"
	CodeLineRelinked    Code = "line_relinked"
	CodeWouldCreate     Code = "would_create_line"
	CodeNoCatalogItem   Code = "catalog_item_missing"

	// Mapping health problems that stop a line's write (see CheckMapping);
	// line_missing above doubles as the health code of a missing line.
	CodeCompanyGone          Code = Code(CompanyGone)
	CodeCompanyInactive      Code = Code(CompanyInactive)
	CodeContractGone         Code = Code(ContractGone)
	CodeContractOtherCompany Code = Code(ContractOtherCompany)
	CodeContractCancelled    Code = Code(ContractCancelled)
	CodeContractEnded        Code = Code(ContractEnded)
	CodeContractNotRecurring Code = Code(ContractNotRecurring)
	CodeLineCancelled        Code = Code(LineCancelled)
	CodeProductMismatch      Code = Code(ProductMismatch)
)

// CodeInfo documents a code: its level, the org outcome it leads to, when it
// is recorded and what the admin should do.
type CodeInfo struct {
	Code    Code
	Level   Level
	Outcome Outcome
	When    string
	Action  string
}

// Codes lists every entry code with its documentation, in the order of the
// table in README.md.
var Codes = []CodeInfo{
	{CodeUpdated, Info, OutcomeUpdated, "The line's quantity or unit cost differed from the target and was written (before → after).", "Nothing."},
	{CodeUnchanged, Info, OutcomeUnchanged, "The line already holds the target; nothing was written.", "Nothing."},
	{CodeWouldUpdate, Info, OutcomeUpdated, "Dry run: the line would be written (before → after).", "Review; start a real run to apply."},
	{CodeDriftCorrected, Warning, OutcomeUpdated, "The PSA held a value psabridge did not write (someone edited the line in the PSA); it was set back to the target.", "Find out who edits the line by hand; change usage or the mapping instead."},
	{CodeWouldCorrect, Warning, OutcomeUpdated, "Dry run: the PSA holds a value psabridge did not write; a real run would set it back.", "As for drift_corrected."},
	{CodeNoUsage, Info, OutcomeSkipped, "No usage was reported for the org and product in the billed period; the line was left alone.", "Check that the platform reports the org; enable \"zero lines of deprovisioned orgs\" to bill 0."},
	{CodeNoUsageZeroed, Info, OutcomeUpdated, "No usage in the period and the tenant zeroes deprovisioned orgs: the target is 0.", "Nothing, unless the org is still in use."},
	{CodeNotMapped, Info, OutcomeSkipped, "The org's mapping was removed or disabled after the run started.", "Nothing; map the org again to bill it."},
	{CodeLineMissing, Error, OutcomeFailed, "The mapped service line does not exist on the mapped contract (deleted, or moved to another contract) and the tenant does not create missing lines; nothing was written.", "Fix the org's mapping: pick the contract's current line, or turn on \"create missing lines\" in billing settings."},
	{CodeNoIntegration, Error, OutcomeFailed, "The tenant has no PSA integration (deleted after the run started).", "Connect the PSA again."},
	{CodePSARejected, Error, OutcomeFailed, "The PSA refused the change; the message holds the PSA's own words.", "Act on the PSA's message (e.g. contract dates, closed period), then run again."},
	{CodePSAUnauthorized, Error, OutcomeFailed, "The PSA refused the credentials.", "Update the integration's credentials (PUT /v1/integration)."},
	{CodePSAForbidden, Error, OutcomeFailed, "The PSA API user lacks a permission for this change.", "Grant the API user's security level/role access to contracts."},
	{CodePSAUnavailable, Warning, OutcomeFailed, "The PSA kept failing or timing out; recorded as warning while retries continue, final after the last delivery.", "Usually nothing: the next daily run retries. If it persists, check the PSA's status."},
	{CodeDeferred, Warning, OutcomeDeferred, "The tenant's hourly PSA request budget was spent, or the PSA asked to wait longer than a worker can (429 / hourly cap with a long Retry-After); the org resumes by itself at the time the entry and the run's resumeAt give.", "Nothing; raise the budget in billing settings if runs often defer (a change applies from the next request)."},
	{CodeInternal, Error, OutcomeFailed, "An unexpected error in psabridge.", "Report it with the run id."},
	{CodeLineCreated, Info, OutcomeUpdated, "The mapped line was missing and the tenant creates missing lines: a line billing the product's catalog item was added to the mapped contract at the target, and the org's mapping now points at it.", "Nothing; check the new line on the contract if it was deleted on purpose."},
	{CodeLineRelinked, Warning, OutcomeUpdated, "The mapped line was missing, but the mapped contract already had a line billing the product's catalog item (e.g. created by an earlier attempt): the mapping now points at it and it was brought to the target.", "Check that the line is the one to bill."},
	{CodeWouldCreate, Info, OutcomeUpdated, "Dry run: the mapped line is missing; a real run would create it on the mapped contract at the target.", "Review; start a real run to apply."},
	{CodeNoCatalogItem, Error, OutcomeFailed, "The mapped line is missing and the tenant creates missing lines, but the product has no pushed catalog item to bill, so nothing was created.", "Push the catalog (POST /v1/catalog/push), or fix the org's mapping by hand."},
	{CodeCompanyGone, Error, OutcomeFailed, "Mapping health: the mapped PSA company no longer exists; nothing was written.", "Map the org to the company that now stands for it."},
	{CodeCompanyInactive, Error, OutcomeFailed, "Mapping health: the mapped PSA company is inactive; nothing was written.", "Reactivate the company in the PSA, or map the org to another company."},
	{CodeContractGone, Error, OutcomeFailed, "Mapping health: the mapped contract no longer exists; nothing was written.", "Choose the company's current recurring contract in the mapping."},
	{CodeContractOtherCompany, Error, OutcomeFailed, "Mapping health: the mapped contract now belongs to another company; nothing was written.", "Choose a contract of the mapped company, or map the org to the contract's company."},
	{CodeContractCancelled, Error, OutcomeFailed, "Mapping health: the mapped contract is cancelled or inactive; nothing was written.", "Choose an active contract, or reactivate this one in the PSA."},
	{CodeContractEnded, Error, OutcomeFailed, "Mapping health: the mapped contract's end date has passed; nothing was written.", "Renew or extend the contract in the PSA, or choose the current one."},
	{CodeContractNotRecurring, Error, OutcomeFailed, "Mapping health: the mapped contract is not a recurring-service contract; nothing was written.", "Choose a recurring-service contract (Autotask) or a recurring agreement (ConnectWise)."},
	{CodeLineCancelled, Error, OutcomeFailed, "Mapping health: the mapped line is cancelled; nothing was written.", "Choose an active line for this product."},
	{CodeProductMismatch, Error, OutcomeFailed, "Mapping health: the mapped line bills another PSA product than the pushed catalog product; nothing was written.", "Choose the line that bills the catalog product, or change the line's product in the PSA."},
}

// InfoOf returns the documentation of a code (zero CodeInfo when unknown).
func InfoOf(c Code) CodeInfo {
	for _, i := range Codes {
		if i.Code == c {
			return i
		}
	}
	return CodeInfo{}
}
