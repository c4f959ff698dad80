package autotask

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/apperr"
	"github.com/psabridge/psabridge/shared/psa"
	"github.com/psabridge/psabridge/shared/psa/psahttp"
	"github.com/psabridge/psabridge/shared/psa/psatest"
)

// TestZoneAndVerifyAreAutotask: asked at Autotask's own zone lookup, the
// zone must be an Autotask host; and Verify passes only for Autotask's
// ThresholdInformation answer. No foreign body shows in an error.
func TestZoneAndVerifyAreAutotask(t *testing.T) {
	const marker = "internal-console-token-0451"
	for _, tc := range []struct {
		name, zoneURL, threshold string
		want                     apperr.Code // "" = verified
	}{
		{"Autotask", "https://webservices5.autotask.net/atservicesrest/", `{"externalRequestThreshold":10000,"requestThresholdTimeframe":60,"currentTimeframeRequestCount":3}`, ""},
		{"ErrZoneForeignHost", "https://169.254.169.254/latest/", `{"externalRequestThreshold":10000,"requestThresholdTimeframe":60}`, apperr.Rejected},
		{"ErrZoneLookalike", "https://webservices5.autotask.net.evil.example/", `{"externalRequestThreshold":10000,"requestThresholdTimeframe":60}`, apperr.Rejected},
		{"ErrZonePlainHTTP", "http://webservices5.autotask.net/atservicesrest/", `{"externalRequestThreshold":10000,"requestThresholdTimeframe":60}`, apperr.Rejected},
		{"ErrThresholdOtherJSON", "https://webservices5.autotask.net/atservicesrest/", `{"status":"ok","note":"` + marker + `"}`, apperr.Rejected},
		{"ErrThresholdHTML", "https://webservices5.autotask.net/atservicesrest/", `<html>` + marker + `</html>`, apperr.Rejected},
		{"ErrThresholdEmpty", "https://webservices5.autotask.net/atservicesrest/", ``, apperr.Rejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "zoneInformation") {
					_, _ = w.Write([]byte(`{"zoneName":"Zone 5","url":"` + tc.zoneURL + `","webUrl":"https://ww5.autotask.net/","ci":5}`))
					return
				}
				_, _ = w.Write([]byte(tc.threshold))
			}))
			defer srv.Close()
			rh := &psatest.Rehoster{Target: srv.URL}
			hc := &http.Client{Transport: rh}
			c, err := New(Config{Credentials: psa.Credentials{Provider: psa.Autotask, Username: "api@acme.example", Secret: "s", IntegrationCode: "c"},
				Options: psahttp.Options{HTTPClient: hc}})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Verify(context.Background())
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want verified", err)
				}
				return
			}
			if !apperr.Is(err, tc.want) {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			for _, d := range append(apperr.DetailsOf(err), apperr.MessageOf(err)) {
				if strings.Contains(d, marker) {
					t.Fatalf("the error shows the foreign body: %q", d)
				}
			}
			if strings.HasPrefix(tc.name, "ErrZone") && len(rh.Hosts()) != 1 {
				t.Fatalf("requests went to %v, want only the zone lookup", rh.Hosts())
			}
		})
	}
}
