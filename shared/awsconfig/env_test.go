package awsconfig_test

import (
	"context"
	"testing"

	"github.com/psabridge/psabridge/shared/awsconfig"
)

func TestLoadFunctionEnv(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	for _, tc := range []struct {
		name    string
		env     map[string]string
		ok      bool
		private bool
	}{
		{"OK", map[string]string{"PSABRIDGE_TABLE": "t", "Q": "url"}, true, false},
		{"AllowPrivate", map[string]string{"PSABRIDGE_TABLE": "t", "Q": "url", "PSABRIDGE_ALLOW_PRIVATE_PSA": "true"}, true, true},
		{"ErrNoTable", map[string]string{"Q": "url"}, false, false},
		{"ErrRequiredMissing", map[string]string{"PSABRIDGE_TABLE": "t"}, false, false},
		{"ErrFlagTypo", map[string]string{"PSABRIDGE_TABLE": "t", "Q": "url", "PSABRIDGE_ALLOW_PRIVATE_PSA": "yes please"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := awsconfig.LoadFunctionEnv(context.Background(), func(k string) string { return tc.env[k] }, "Q")
			if (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
			if err == nil && (env.Table != "t" || env.AllowPrivatePSA != tc.private) {
				t.Fatalf("got %+v, want table t and private=%v", env, tc.private)
			}
		})
	}
}
