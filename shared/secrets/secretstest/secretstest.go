// Package secretstest gives tests a secrets.Store on the moto server that
// `make test` (or localaws.Main) started, under a unique name prefix.
package secretstest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/psabridge/psabridge/shared/awsconfig"
	"github.com/psabridge/psabridge/shared/dynamo/dynamotest"
	"github.com/psabridge/psabridge/shared/secrets"
)

var seq atomic.Int64

// NewStore returns a secrets.Store whose secrets live under a prefix unique
// to this test.
func NewStore(tb testing.TB) *secrets.Store {
	tb.Helper()
	return NewCountingStore(tb, nil)
}

// NewCountingStore is NewStore whose Secrets Manager calls counter counts
// per operation (nil: not counted).
func NewCountingStore(tb testing.TB, counter *awsconfig.RequestCounter) *secrets.Store {
	tb.Helper()
	return newStore(tb, counter, fmt.Sprintf("test-%d-%d/psabridge/", time.Now().UnixNano(), seq.Add(1)))
}

// NewSharedStores is n Stores over one fresh secret prefix, each with its
// own cache: the Secrets Manager of n processes (Lambda containers).
func NewSharedStores(tb testing.TB, n int) []*secrets.Store {
	tb.Helper()
	prefix := fmt.Sprintf("test-%d-%d/psabridge/", time.Now().UnixNano(), seq.Add(1))
	out := make([]*secrets.Store, n)
	for i := range out {
		out[i] = newStore(tb, nil, prefix)
	}
	return out
}

// NewStoresAs is NewSharedStores with store i's calls attributed to
// functions[i] in the e2e record of AWS calls (awsconfig.AsCaller; "" for
// the test's own store): the secrets of the stack's functions and of the
// test over one prefix.
func NewStoresAs(tb testing.TB, functions ...string) []*secrets.Store {
	tb.Helper()
	prefix := fmt.Sprintf("test-%d-%d/psabridge/", time.Now().UnixNano(), seq.Add(1))
	out := make([]*secrets.Store, len(functions))
	for i, fn := range functions {
		var opts []func(*secretsmanager.Options)
		if fn != "" {
			opts = append(opts, func(o *secretsmanager.Options) { o.APIOptions = append(o.APIOptions, awsconfig.AsCaller(fn)) })
		}
		out[i] = newStore(tb, nil, prefix, opts...)
	}
	return out
}

func newStore(tb testing.TB, counter *awsconfig.RequestCounter, prefix string, opts ...func(*secretsmanager.Options)) *secrets.Store {
	tb.Helper()
	cfg := dynamotest.MustConfig(tb)
	if counter != nil {
		opts = append(opts, func(o *secretsmanager.Options) { o.APIOptions = append(o.APIOptions, counter.Middleware()) })
	}
	s, err := secrets.New(awsconfig.SecretsManager(cfg, opts...), prefix)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
