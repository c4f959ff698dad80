// Command infra is the CDK for Go app that deploys psabridge: one stack with
// the DynamoDB table, the FIFO work queues, the five Go functions (from the
// zips `make build` writes to ../build), the HTTP API, the hourly sync tick and
// the alarms. cdk-nag's AwsSolutions checks run on every synth; an
// unsuppressed finding fails it. See docs/DEPLOY.md.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// defaultAssetDir is where `make build` writes <function>.zip, relative to infra/.
const defaultAssetDir = "../build"

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	cfg := ConfigFromContext(app, defaultAssetDir)
	if err := checkConfig(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "psabridge infra:", err)
		os.Exit(1)
	}
	if err := checkAssets(cfg.AssetDir); err != nil {
		fmt.Fprintln(os.Stderr, "psabridge infra:", err)
		os.Exit(1)
	}
	NewApp(app, cfg)
	app.Synth(nil)
}

// NewApp adds the psabridge stack to app and applies cdk-nag's AwsSolutions
// checks to everything in it.
func NewApp(app awscdk.App, cfg Config) *Stack {
	props := &awscdk.StackProps{
		Description: jsii.String("psabridge: platform usage to PSA billing, alerts to PSA tickets"),
	}
	// With credentials the CLI names the target account and region; without
	// (offline synth, tests) the template stays environment-agnostic.
	if account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION"); account != "" && region != "" {
		props.Env = &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
	}
	s := NewStack(app, "Psabridge", props, cfg)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return s
}

// ConfigFromContext reads the stack's settings from CDK context (-c key=value
// or cdk.json), with the claim names' defaults.
func ConfigFromContext(app awscdk.App, assetDir string) Config {
	get := func(key, def string) string {
		if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok && v != "" {
			return v
		}
		return def
	}
	return Config{
		AssetDir:    get("assetDir", assetDir),
		JWTIssuer:   get("jwtIssuer", ""),
		JWTAudience: get("jwtAudience", ""),
		TenantClaim: get("tenantClaim", "tenant"),
		RolesClaim:  get("rolesClaim", "roles"),
		BillingRole: get("billingRole", "billing-admin"),
		AlarmEmail:  get("alarmEmail", ""),
	}
}

// checkAssets fails with the fix when `make build` has not run.
func checkAssets(dir string) error {
	for _, name := range Functions {
		p := filepath.Join(dir, name+".zip")
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s missing: run `make build` first (it writes one zip per function to build/)", p)
		}
	}
	return nil
}
