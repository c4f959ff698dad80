package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/clock"
	"github.com/psabridge/psabridge/shared/dynamo"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/localaws"
	"github.com/psabridge/psabridge/shared/samples"
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
// (httpadapter V2 over the real wiring), re-dated to the test clock and
// re-signed with the tenant's secret (a sample's own signature is stale by
// design).
func TestSampleEvents(t *testing.T) {
	h, err := build(context.Background(), MustEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httpadapter.NewV2(h).ProxyWithContext
	all, err := samples.Load("api", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var signingSecret string
	for _, s := range all {
		t.Run(strings.TrimSuffix(s.Name, ".json"), func(t *testing.T) {
			resp, err := proxy(context.Background(), mustEvent(t, s.JSON, clock.Now(), signingSecret))
			if err != nil {
				t.Fatal(err)
			}
			secret, err := samples.CheckAPI(s.Name, resp.StatusCode, resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if secret != "" {
				signingSecret = secret
			}
		})
	}
	t.Run("StaleSignatureRefused", func(t *testing.T) {
		s, err := samples.LoadFile(filepath.Join("..", "..", "events", "api", "02-usage-signed.json"), clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := proxy(context.Background(), mustEvent(t, s.JSON, clock.Now().Add(-time.Hour), signingSecret)); err != nil || resp.StatusCode != 401 {
			t.Fatalf("got %d %v, want 401", resp.StatusCode, err)
		}
	})
}

// mustEvent decodes an API Gateway v2 sample, signed at signedAt with secret
// when the sample is a signed one.
func mustEvent(tb testing.TB, sample []byte, signedAt time.Time, secret string) events.APIGatewayV2HTTPRequest {
	tb.Helper()
	b, err := samples.Resign(sample, signedAt, secret)
	if err != nil {
		tb.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		tb.Fatal(err)
	}
	return ev
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
