package awsconfig

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// FunctionEnv is what every psabridge function reads from its environment.
type FunctionEnv struct {
	AWS aws.Config
	// Table is PSABRIDGE_TABLE (required).
	Table string
	// SecretPrefix is PSABRIDGE_SECRET_PREFIX ("" means secrets.DefaultPrefix).
	SecretPrefix string
	// AllowPrivatePSA is PSABRIDGE_ALLOW_PRIVATE_PSA: PSA clients may reach
	// loopback over plain http (local runs only).
	AllowPrivatePSA bool
}

// LoadFunctionEnv reads the common settings through getenv (os.Getenv in
// main), checks that PSABRIDGE_TABLE and every name in required are set, and
// loads the SDK configuration. Boolean flags accept strconv.ParseBool's
// forms; anything else is an error, so a typo never silently disables a flag.
func LoadFunctionEnv(ctx context.Context, getenv func(string) string, required ...string) (FunctionEnv, error) {
	for _, name := range append([]string{"PSABRIDGE_TABLE"}, required...) {
		if getenv(name) == "" {
			return FunctionEnv{}, fmt.Errorf("%s must be set", name)
		}
	}
	allow, err := Flag(getenv, "PSABRIDGE_ALLOW_PRIVATE_PSA")
	if err != nil {
		return FunctionEnv{}, err
	}
	cfg, err := Load(ctx)
	if err != nil {
		return FunctionEnv{}, err
	}
	return FunctionEnv{AWS: cfg, Table: getenv("PSABRIDGE_TABLE"), SecretPrefix: getenv("PSABRIDGE_SECRET_PREFIX"), AllowPrivatePSA: allow}, nil
}

// Flag reads a boolean environment variable; unset is false.
func Flag(getenv func(string) string, name string) (bool, error) {
	v := getenv(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", name, v)
	}
	return b, nil
}
