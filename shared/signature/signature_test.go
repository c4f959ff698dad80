package signature_test

import (
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/signature"
)

// TestVerify is the signature table shared in spirit by usage ingestion and
// the webhook; both call Verify on the raw body.
func TestVerify(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"observations":[{"org":"o1","value":3}]}`)
	const secret, old = "s3cret-new", "s3cret-old"
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		ok     bool
	}{
		{"Valid", signature.Sign(body, now, secret), body, true},
		{"ValidAtEdgeOfWindow", signature.Sign(body, now.Add(-299*time.Second), secret), body, true},
		{"Expired", signature.Sign(body, now.Add(-301*time.Second), secret), body, false},
		{"Future", signature.Sign(body, now.Add(301*time.Second), secret), body, false},
		{"WrongSecret", signature.Sign(body, now, "other"), body, false},
		{"TamperedBody", signature.Sign(body, now, secret), append([]byte(nil), append(body, ' ')...), false},
		{"MissingHeader", "", body, false},
		{"MalformedNoTimestamp", "v1=" + strings.Repeat("ab", 32), body, false},
		{"MalformedNotHex", "t=1,v1=zz", body, false},
		{"MalformedGarbage", "garbage", body, false},
		{"MalformedShortSignature", "t=" + "1795262400" + ",v1=abcd", body, false},
		{"TwoV1OneValid", signature.Sign(body, now, "wrong", secret), body, true},
		{"RotationOldSecretStillValid", signature.Sign(body, now, old), body, true},
		{"TwoV1NoneValid", signature.Sign(body, now, "wrong1", "wrong2"), body, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := signature.Verify(tc.header, tc.body, now, []string{secret, old})
			if (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !apperr.Is(err, apperr.Unauthorized) {
				t.Fatalf("got code %s, want unauthorized", apperr.CodeOf(err))
			}
		})
	}
}
