package psahttp

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/clock"
)

// TestOptionsWithDefaults: unset fields get the strict client and the
// real clock; set ones are kept.
func TestOptionsWithDefaults(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the default client reached a loopback server")
	}))
	defer srv.Close()

	d := Options{}.WithDefaults()
	if d.HTTPClient == nil || d.HTTPClient.Timeout != 30*time.Second {
		t.Fatalf("default HTTPClient %+v, want NewHTTPClient's with a 30 s timeout", d.HTTPClient)
	}
	if _, err := d.HTTPClient.Get(srv.URL); !errors.Is(err, ErrDestinationRefused) {
		t.Errorf("default client to loopback: got %v, want ErrDestinationRefused (strict policy)", err)
	}
	if d.Now == nil {
		t.Fatal("no default Now")
	}
	before, now, after := clock.Now(), d.Now(), clock.Now()
	if now.Before(before) || now.After(after) {
		t.Errorf("default Now read %v, not between clock.Now's %v and %v", now, before, after)
	}

	hc := &http.Client{}
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	o := Options{HTTPClient: hc, Now: func() time.Time { return fixed }, Retry: Retrier{MaxAttempts: 2}}.WithDefaults()
	if o.HTTPClient != hc || !o.Now().Equal(fixed) || o.Retry.MaxAttempts != 2 {
		t.Errorf("set options changed: %+v", o)
	}
}
