package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/psabridge/psabridge/shared/alerting"
	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/billing"
	"github.com/psabridge/psabridge/shared/httpapi"
	"github.com/psabridge/psabridge/shared/metrics"
	"github.com/psabridge/psabridge/shared/psa"
)

var errMarkDenied = errors.New("InternalFailure: injected")

// unmarkedAlerts is the alert store with MarkAlertEnqueued failing.
type unmarkedAlerts struct{ httpapi.AlertStore }

func (unmarkedAlerts) MarkAlertEnqueued(context.Context, string, alerting.Alert) error {
	return errMarkDenied
}

// TestWebhookMarkFailureIsLoggedAndCounted: an alert queued but not marked
// as queued is still accepted (a replay queues it again, and the queue's
// deduplication and the worker's state check drop the copy), and the
// failure is logged with its operation and error and counted as Degraded.
func TestWebhookMarkFailureIsLoggedAndCounted(t *testing.T) {
	var emf bytes.Buffer
	w := newWebhookAPI(t, nil, func(c *httpapi.Config) {
		c.Alerts = unmarkedAlerts{c.Store.(httpapi.AlertStore)}
		c.Metrics = &metrics.Emitter{W: &emf}
	})
	secret := w.mustProvision("acme-msp")
	rec := w.signed("POST", webhookPath, "acme-msp", alertJSON("al-mark", "user_lockout", "org-1", "open", w.Now), secret)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("got %d %s, want 202", rec.Code, rec.Body)
	}
	if msgs := w.messages(t); len(msgs) != 1 {
		t.Fatalf("got %d messages, want the alert queued once", len(msgs))
	}
	var line string
	for _, l := range strings.Split(w.Logs.String(), "\n") {
		if strings.Contains(l, `"operation":"webhook.mark_enqueued"`) {
			line = l
		}
	}
	if !strings.Contains(line, errMarkDenied.Error()) || !strings.Contains(line, `"level":"WARN"`) {
		t.Errorf("log: got %q, want a webhook.mark_enqueued warning with the error %q", line, errMarkDenied)
	}
	if n := strings.Count(emf.String(), `"Degraded":1`); n != 1 {
		t.Errorf("metrics: Degraded counted %d times, want 1:\n%s", n, emf.String())
	}
}

// pushBreaker fails, once armed, every catalog upsert (transiently, so a
// push stops) and every catalog write.
type pushBreaker struct {
	armed   atomic.Bool
	upserts atomic.Int32
}

var errPushStore = errors.New("ProvisionedThroughputExceededException: injected")

type breakingClient struct {
	psa.Client
	b *pushBreaker
}

func (c breakingClient) UpsertCatalogItem(ctx context.Context, it psa.CatalogItem) (psa.CatalogItem, error) {
	if c.b.armed.Load() {
		c.b.upserts.Add(1)
		return psa.CatalogItem{}, apperr.New(apperr.Transient, "the PSA is unavailable")
	}
	return c.Client.UpsertCatalogItem(ctx, it)
}

type breakingStore struct {
	httpapi.Store
	b *pushBreaker
}

func (s breakingStore) PutCatalog(ctx context.Context, tenant string, c billing.Catalog, ifVersion int64) (billing.Catalog, error) {
	if s.b.armed.Load() {
		return billing.Catalog{}, errPushStore
	}
	return s.Store.PutCatalog(ctx, tenant, c, ifVersion)
}

// TestPartialPushRecordFailureIsLoggedAndCounted: a catalog push the PSA
// stops at its second product (the first, found in the PSA, is adopted
// without a write) answers 503, and when recording what was
// pushed so far fails too, that failure is logged with its operation and
// error and counted as Degraded (the next push adopts the item by its
// identifier and name).
func TestPartialPushRecordFailureIsLoggedAndCounted(t *testing.T) {
	f := toolFixtures()[0]
	var emf bytes.Buffer
	b := &pushBreaker{}
	e := newPSAEnv(t, func(c *httpapi.Config) {
		dial := c.Dial
		c.Dial = func(tenant string, creds psa.Credentials, ep psa.Endpoints) (psa.Client, error) {
			cl, err := dial(tenant, creds, ep)
			return breakingClient{Client: cl, b: b}, err
		}
		c.Store = breakingStore{Store: c.Store, b: b}
		c.Metrics = &metrics.Emitter{W: &emf}
	})
	f.reseed(e, psaChange{})
	e.mustProvision(f.tenant)
	e.mustConnect()
	// The second product is new to the PSA: the push creates it.
	e.mustOK(f.tenant, "PUT", "/v1/catalog", strings.Replace(f.catalog, `"Backup Seats"`, `"Archive Gigabytes"`, 1), nil)
	b.armed.Store(true)
	if rec := e.admin(f.tenant, "POST", "/v1/catalog/push", nil, nil); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("push: got %d %s, want 503\n%s", rec.Code, rec.Body, e.Logs)
	}
	if n := b.upserts.Load(); n != 1 {
		t.Fatalf("upserts: got %d, want 1 (the second product's, failed)", n)
	}
	var line string
	for _, l := range strings.Split(e.Logs.String(), "\n") {
		if strings.Contains(l, `"operation":"api.catalog_push_record"`) {
			line = l
		}
	}
	if !strings.Contains(line, errPushStore.Error()) || !strings.Contains(line, `"level":"WARN"`) {
		t.Errorf("log: got %q, want an api.catalog_push_record warning with the error %q", line, errPushStore)
	}
	if n := strings.Count(emf.String(), `"Degraded":1`); n != 1 {
		t.Errorf("metrics: Degraded counted %d times, want 1:\n%s", n, emf.String())
	}
}
