package samples

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/signature"
)

// Resign returns the API Gateway v2 sample event with its platform
// signature made anew at now with secret (a sample's own signature is stale
// by design). An unsigned sample is returned as it is; a signed one without
// a secret is an error.
func Resign(event []byte, now time.Time, secret string) ([]byte, error) {
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(event, &ev); err != nil {
		return nil, fmt.Errorf("samples: not an event: %w", err)
	}
	var headers map[string]string
	if err := json.Unmarshal(ev["headers"], &headers); err != nil {
		return nil, fmt.Errorf("samples: event headers: %w", err)
	}
	h := strings.ToLower(signature.Header)
	if headers[h] == "" {
		return event, nil
	}
	if secret == "" {
		return nil, fmt.Errorf("samples: a signed sample, and no signing secret to sign it with")
	}
	var body string
	if err := json.Unmarshal(ev["body"], &body); err != nil {
		return nil, fmt.Errorf("samples: event body: %w", err)
	}
	headers[h] = signature.Sign([]byte(body), now, secret)
	hb, err := json.Marshal(headers)
	if err != nil {
		return nil, err
	}
	ev["headers"] = hb
	return json.Marshal(ev)
}
