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
	if header == "" {
		return apperr.New(apperr.Unauthorized, "missing %s header", Header)
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return apperr.New(apperr.Unauthorized, "malformed %s header", Header)
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return apperr.New(apperr.Unauthorized, "malformed %s header", Header)
			}
			sigs = append(sigs, sig)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 || len(sigs) > 8 {
		return apperr.New(apperr.Unauthorized, "malformed %s header", Header)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > Tolerance || d < -Tolerance {
		return apperr.New(apperr.Unauthorized, "signature timestamp is outside the allowed window")
	}
	for _, secret := range secrets {
		want := mac(secret, ts, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return apperr.New(apperr.Unauthorized, "signature does not match")
}
