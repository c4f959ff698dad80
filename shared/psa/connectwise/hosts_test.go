package connectwise

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

func TestCloudHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"na.myconnectwise.net", true},
		{"api-na.myconnectwise.net", true},
		{"eu.myconnectwise.net", true},
		{"api-eu.myconnectwise.net", true},
		{"au.myconnectwise.net", true},
		{"api-aus.myconnectwise.net", true},
		{"za.myconnectwise.net", true},
		{"NA.MyConnectWise.net.", true},
		{"staging.connectwisedev.com", true},
		{"api-staging.connectwisedev.com", true},
		{"myconnectwise.net", false},
		{"evil.na.myconnectwise.net", false},
		{"na.myconnectwise.net.evil.example", false},
		{"namyconnectwise.net", false},
		{"na-myconnectwise.net", false},
		{"dev.connectwisedev.com", false},
		{"connect.verveit.com", false},
		{"127.0.0.1", false},
		{"169.254.169.254", false},
		{"", false},
	} {
		if got := CloudHost(tc.host); got != tc.want {
			t.Errorf("CloudHost(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

// TestSiteRule: without custom endpoints, a site must be a cloud host, and
// the API host that companyinfo names must be one too.
func TestSiteRule(t *testing.T) {
	t.Run("ErrSiteNotCloud", func(t *testing.T) {
		creds := testCredentials()
		creds.Site = "intranet.example.com"
		if _, err := New(Config{Credentials: creds}); !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.MessageOf(err), "cloud host") {
			t.Fatalf("got %v, want invalid naming the cloud host rule", err)
		}
	})
	t.Run("CustomLoginEndpointAllowsAnyHost", func(t *testing.T) {
		creds := testCredentials()
		creds.Site = "intranet.example.com"
		if _, err := New(Config{Credentials: creds, Endpoints: psa.Endpoints{ConnectWiseLoginURL: "https://cw.intranet.example.com/"}}); err != nil {
			t.Fatalf("got %v, want a client (custom endpoints are explicit)", err)
		}
	})
	for _, tc := range []struct {
		name    string
		isCloud bool
		siteURL string
		wantErr bool
	}{
		{"CloudAnswer", true, "na.myconnectwise.net", false},
		{"ErrOnPremiseAnswerFromCloudSite", false, "cw.intranet.example.com", true},
		{"ErrCloudAnswerForeignHost", true, "evil.example.com", true},
		{"ErrSchemeInAnswer", false, "http://169.254.169.254", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"CompanyName":"Acme","Codebase":"v2025_1/","CompanyID":"acme","IsCloud":` +
					map[bool]string{true: "true", false: "false"}[tc.isCloud] + `,"SiteUrl":"` + tc.siteURL + `"}`))
			}))
			defer srv.Close()
			// Every request goes to srv whatever its host, and is recorded.
			rh := &psatest.Rehoster{Target: srv.URL}
			hc := &http.Client{Transport: rh}
			c := MustClient(t, Config{Credentials: testCredentials(), Options: psahttp.Options{HTTPClient: hc}})
			base, err := c.base(context.Background())
			if tc.wantErr {
				if !apperr.Is(err, apperr.Rejected) {
					t.Fatalf("got %q, %v; want rejected", base, err)
				}
				if seen := rh.Hosts(); len(seen) != 1 || seen[0] != "na.myconnectwise.net" {
					t.Fatalf("requests went to %v, want only the cloud site's companyinfo", seen)
				}
				return
			}
			if err != nil || base != "https://api-na.myconnectwise.net/v2025_1/apis/3.0/" {
				t.Fatalf("got %q, %v; want the api-na base", base, err)
			}
		})
	}
}

// TestVerifyChecksTheAnswer: only ConnectWise's /system/info answer
// verifies; a foreign body is never echoed in the error's details.
func TestVerifyChecksTheAnswer(t *testing.T) {
	const foreign = "<html>internal admin console token=abc123</html>"
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   apperr.Code // "" = verified
	}{
		{"ConnectWise", 200, `{"version":"v2025.1.0.0","isCloud":true,"serverTimeZone":"Eastern Standard Time","licenseBits":[],"cloudRegion":"NA"}`, ""},
		{"ErrEmpty200", 200, ``, apperr.Rejected},
		{"ErrOtherJSON", 200, `{"ok":true}`, apperr.Rejected},
		{"ErrVersionNotARelease", 200, `{"version":"1.0","isCloud":true,"serverTimeZone":"UTC"}`, apperr.Rejected},
		{"ErrXML", 200, `<?xml version="1.0"?><ListQueuesResponse>` + foreign + `</ListQueuesResponse>`, apperr.Rejected},
		{"ErrHTML", 200, foreign, apperr.Rejected},
		{"ErrJSONArray", 200, `[` + `"` + "x" + `"]`, apperr.Rejected},
		{"ErrHTML404", 404, foreign, apperr.NotFound},
		{"ErrHTML400", 400, foreign, apperr.Rejected},
		{"ErrHTML401", 401, foreign, apperr.Unauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			creds := testCredentials()
			c := MustClient(t, Config{Credentials: creds, Options: psahttp.Options{HTTPClient: srv.Client()},
				Endpoints: psa.Endpoints{ConnectWiseLoginURL: srv.URL + "/", ConnectWiseAPIURL: srv.URL + "/"}})
			err := c.Verify(context.Background())
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
				if strings.Contains(d, "token=abc123") || strings.Contains(d, "<") {
					t.Fatalf("the error shows the foreign body: %q", d)
				}
			}
		})
	}
}
