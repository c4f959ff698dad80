package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/localaws"
	"github.com/psabridge/psabridge/shared/samples"
	"github.com/psabridge/psabridge/shared/signature"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// MustEnv returns the function's environment over a fresh table and
// secret prefix on the local stack.
func MustEnv(tb testing.TB) func(string) string {
	tb.Helper()
	cfg := dynamotest.MustConfig(tb)
	table := fmt.Sprintf("psabridge-api-test-%d", time.Now().UnixNano())
	db := awsconfig.DynamoDB(cfg)
	if err := dynamo.CreateTable(context.Background(), db, table); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	env := map[string]string{
		"PSABRIDGE_TABLE":         table,
		"PSABRIDGE_SECRET_PREFIX": fmt.Sprintf("test-api-%d/", time.Now().UnixNano()),
		"PSABRIDGE_TENANT_CLAIM":  "tenant",
		"PSABRIDGE_ROLES_CLAIM":   "roles",
		"PSABRIDGE_BILLING_ROLE":  "billing-admin",
	}
	return func(k string) string { return env[k] }
}

// TestSampleEvents feeds every events/api sample through the Lambda handler
// (httpadapter V2 over the real wiring). The signed usage sample's
// signature is stale by design; it is re-signed with the tenant's secret
// at test time.
func TestSampleEvents(t *testing.T) {
	h, err := build(context.Background(), MustEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httpadapter.NewV2(h).ProxyWithContext
	files, _ := filepath.Glob(filepath.Join("..", "..", "events", "api", "*.json"))
	if len(files) == 0 {
		t.Fatal("no sample events under events/api")
	}
	var signingSecret string
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Headers[strings.ToLower(signature.Header)] != "" {
				if signingSecret == "" {
					t.Fatal("no signing secret: the provisioning sample must come first")
				}
				ev.Headers[strings.ToLower(signature.Header)] = signature.Sign([]byte(ev.Body), time.Now(), signingSecret)
			}
			resp, err := proxy(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			secret, err := samples.CheckAPI(name, resp.StatusCode, resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if secret != "" {
				signingSecret = secret
			}
		})
	}
	t.Run("StaleSignatureRefused", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join("..", "..", "events", "api", "02-usage-signed.json"))
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		ev.Headers[strings.ToLower(signature.Header)] = signature.Sign([]byte(ev.Body), time.Now().Add(-time.Hour), signingSecret)
		if resp, err := proxy(context.Background(), ev); err != nil || resp.StatusCode != 401 {
			t.Fatalf("got %d %v, want 401", resp.StatusCode, err)
		}
	})
}

func TestBuildConfigErrors(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"ErrNoTable":  {},
		"ErrBadFlag":  {"PSABRIDGE_TABLE": "t", "PSABRIDGE_ALLOW_PRIVATE_PSA": "perhaps"},
		"ErrBadFlag2": {"PSABRIDGE_TABLE": "t", "PSABRIDGE_ALLOW_CUSTOM_ENDPOINTS": "sure"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := build(context.Background(), func(k string) string { return env[k] }); err == nil {
				t.Fatal("got no error, want one")
			}
		})
	}
}
