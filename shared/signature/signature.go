// Package signature signs and verifies platform requests (usage, org
// registration, alerts). The header is
//
//	X-Psabridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">
//
// with several v1 values allowed, so the platform can sign with an old and a
// new secret while a rotation is under way.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
)

// Header is the name of the signature header; TenantHeader names the tenant.
const (
	Header       = "X-Psabridge-Signature"
	TenantHeader = "X-Psabridge-Tenant"
)

// Tolerance is how far a signature's timestamp may be from now.
const Tolerance = 300 * time.Second

// Sign returns the header value for body signed at t with each secret.
func Sign(body []byte, t time.Time, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		b.WriteString(",v1=" + hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks header against the raw body with any of secrets at now. It
// returns apperr.Unauthorized when the header is missing or malformed, the
// timestamp is more than Tolerance away from now, or no v1 matches any
// secret. Comparisons are constant-time.
func Verify(header string, body []byte, now time.Time, secrets []string) error {
	sig, err := Parse(header, now)
	if err != nil {
		return err
	}
	if !sig.Matches(body, secrets) {
		return apperr.New(apperr.Unauthorized, "signature does not match")
	}
	return nil
}

// Signed is a signature header that is well-formed and within the time
// window, not yet checked against any secret.
type Signed struct {
	ts   string
	sigs [][]byte
}

// Parse checks a header's form (t=<unix>, 1 to 8 v1 of 64 hex digits) and
// that its timestamp is within Tolerance of now. It needs no secret, so a
// verifier can refuse a malformed or stale request before it reads one.
// Unauthorized when the header is missing, malformed or outside the window.
func Parse(header string, now time.Time) (Signed, error) {
	if header == "" {
		return Signed{}, apperr.New(apperr.Unauthorized, "missing %s header", Header)
	}
	var s Signed
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Signed{}, apperr.New(apperr.Unauthorized, "malformed %s header", Header)
		}
		switch k {
		case "t":
			s.ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return Signed{}, apperr.New(apperr.Unauthorized, "malformed %s header", Header)
			}
			s.sigs = append(s.sigs, sig)
		}
	}
	unix, err := strconv.ParseInt(s.ts, 10, 64)
	if err != nil || len(s.sigs) == 0 || len(s.sigs) > 8 {
		return Signed{}, apperr.New(apperr.Unauthorized, "malformed %s header", Header)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > Tolerance || d < -Tolerance {
		return Signed{}, apperr.New(apperr.Unauthorized, "signature timestamp is outside the allowed window")
	}
	return s, nil
}

// Matches reports whether any v1 of the header is the HMAC of body with any
// of secrets. Comparisons are constant-time.
func (s Signed) Matches(body []byte, secrets []string) bool {
	for _, secret := range secrets {
		want := mac(secret, s.ts, body)
		for _, sig := range s.sigs {
			if hmac.Equal(sig, want) {
				return true
			}
		}
	}
	return false
}
