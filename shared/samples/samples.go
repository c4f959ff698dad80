// Package samples states what each sample event under events/ must get, so
// the handler tests (functions/api) and the Lambda Runtime API smoke test
// (shared/lambdaruntime) check the samples against one expectation.
package samples

import (
	"encoding/json"
	"fmt"
	"strings"
)

// APIStatus is the answer each events/api sample must get, in file order
// (the first provisions the tenant the later ones act for). A sample
// without an entry is an error of CheckAPI.
var APIStatus = map[string]int{
	"01-provision-tenant-iam.json":     201,
	"02-usage-signed.json":             200,
	"03-get-billing-settings.json":     200,
	"04-put-billing-settings.json":     200,
	"05-get-orgs.json":                 200,
	"06-get-integration-none.json":     404,
	"07-get-companies-wrong-role.json": 403,
	"08-get-openapi.json":              200,
}

// CheckAPI checks the answer to the events/api sample name: its status and,
// where the sample's point is in the body, the body. For the provisioning
// sample it returns the tenant's signing secret, which the signed samples
// after it are re-signed with (a static signature goes stale).
func CheckAPI(name string, status int, body string) (signingSecret string, err error) {
	want, ok := APIStatus[name]
	if !ok {
		return "", fmt.Errorf("sample %s has no expected status in samples.APIStatus", name)
	}
	if status != want {
		return "", fmt.Errorf("got %d %s, want %d", status, body, want)
	}
	switch name {
	case "01-provision-tenant-iam.json":
		var out struct {
			SigningSecret struct{ Value string } `json:"signingSecret"`
		}
		if err := json.Unmarshal([]byte(body), &out); err != nil || out.SigningSecret.Value == "" {
			return "", fmt.Errorf("got %s, want a signing secret", body)
		}
		return out.SigningSecret.Value, nil
	case "02-usage-signed.json":
		if !strings.Contains(body, `"accepted":2`) {
			return "", fmt.Errorf("got %s, want both observations accepted", body)
		}
	case "05-get-orgs.json":
		if !strings.Contains(body, `"id":"org-1"`) {
			return "", fmt.Errorf("got %s, want org-1 from the usage sample", body)
		}
	}
	return "", nil
}
