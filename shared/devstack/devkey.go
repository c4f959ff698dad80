package devstack

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/psabridge/psabridge/shared/httpapi"
)

// DefaultKeyFile is where `make run` keeps the dev JWT signing key, so
// `go run ./functions/local -admin-token TENANT` can sign tokens the
// running stack accepts.
const DefaultKeyFile = ".local/dev-jwt-key.pem"

// devKey returns the dev JWT signing key kept in path: the key already
// there when keep is set (tokens outlive a restart, `-persist`), else a new
// one, written there (PEM PKCS #8, mode 0600, folder 0700) so that
// AdminTokenFromKeyFile signs for this stack. An empty path keeps the key
// in memory only.
func devKey(path string, keep bool) (ed25519.PrivateKey, error) {
	if path != "" && keep {
		key, err := readDevKey(path)
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil || path == "" {
		return key, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("devstack: dev JWT key: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("devstack: dev JWT key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("devstack: dev JWT key: %w", err)
	}
	return key, nil
}

// readDevKey reads a key devKey wrote. The error wraps fs.ErrNotExist when
// there is none.
func readDevKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devstack: dev JWT key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("devstack: dev JWT key %s is not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devstack: dev JWT key %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("devstack: dev JWT key %s is not an Ed25519 key", path)
	}
	return key, nil
}

// AdminTokenFromKeyFile signs a billing-admin token of tenant (valid for
// TokenTTL from now) with the key a running stack wrote to keyFile, then
// asks the API at apiURL whether it accepts it and knows the tenant (GET
// /v1/tenant), so a stale key file, a stack that is not running or a
// tenant it never provisioned is said plainly instead of yielding a token
// that only fails later.
func AdminTokenFromKeyFile(ctx context.Context, apiURL, keyFile, tenant string, now time.Time) (string, error) {
	key, err := readDevKey(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no dev JWT key at %s: start the stack first (make run), from this folder", keyFile)
	}
	if err != nil {
		return "", err
	}
	tok, err := httpapi.DevToken(key, TokenIssuer, TokenAudience, tenant, []string{BillingRole}, TokenTTL, now)
	if err != nil {
		return "", err
	}
	api, err := (&Client{Base: apiURL}).API(tok)
	if err != nil {
		return "", err
	}
	_, err = api.GetTenantWithResponse(ctx)
	switch {
	case StatusOf(err) == http.StatusUnauthorized:
		return "", fmt.Errorf("the stack at %s does not accept tokens signed with %s: it was started from another folder, or restarted since (run again)", apiURL, keyFile)
	case StatusOf(err) == http.StatusNotFound:
		return "", fmt.Errorf("the stack at %s has no tenant %q: provision it first (POST /v1/platform/tenants with the operator token make run printed, docs/LOCAL.md)", apiURL, tenant)
	case err != nil:
		return "", fmt.Errorf("checking the token against %s: %w (is make run running?)", apiURL, err)
	}
	return tok, nil
}
