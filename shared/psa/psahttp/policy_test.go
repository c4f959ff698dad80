package psahttp

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/psabridge/psabridge/shared/apperr"
)

// The default client refuses loopback, private, link-local (the cloud
// metadata address) and unspecified destinations at dial time, and plain
// http before dialing; AllowPrivate opens loopback and http only. Refused
// destinations are never contacted: the check runs before connect.
func TestPolicy(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer tlsSrv.Close()
	tlsLocalhost := strings.Replace(tlsSrv.URL, "127.0.0.1", "localhost", 1)

	for _, tc := range []struct {
		name  string
		p     Policy
		url   string
		allow bool
	}{
		{"DefaultRefusesLoopback", Policy{}, tlsSrv.URL, false},
		{"DefaultRefusesLoopbackByName", Policy{}, tlsLocalhost, false},
		{"DefaultRefusesPrivate", Policy{}, "https://10.1.2.3/", false},
		{"DefaultRefusesPrivate192", Policy{}, "https://192.168.0.10/", false},
		{"DefaultRefusesMetadata", Policy{}, "https://169.254.169.254/latest/meta-data/", false},
		{"DefaultRefusesUnspecified", Policy{}, "https://0.0.0.0:9/", false},
		{"DefaultRefusesUnspecifiedV6", Policy{}, "https://[::]:9/", false},
		{"DefaultRefusesPlainHTTP", Policy{}, "http://93.184.216.34/", false},
		{"DefaultRefusesPlainHTTPLoopback", Policy{}, plain.URL, false},
		{"AllowPrivateAllowsLoopbackHTTP", Policy{AllowPrivate: true}, plain.URL, true},
		{"AllowPrivateRefusesMetadata", Policy{AllowPrivate: true}, "http://169.254.169.254/latest/meta-data/", false},
		{"AllowPrivateRefusesPrivate", Policy{AllowPrivate: true}, "http://10.1.2.3/", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewHTTPClient(tc.p, 2*time.Second)
			resp, err := c.Get(tc.url)
			if tc.allow {
				if err != nil {
					t.Fatalf("got %v, want the request allowed", err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("got status %d, want 200", resp.StatusCode)
				}
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got status %d, want the destination refused", resp.StatusCode)
			}
			if !errors.Is(err, ErrDestinationRefused) {
				t.Fatalf("got %v, want ErrDestinationRefused", err)
			}
			if a := TransportError(err); !apperr.Is(a.Err, apperr.Invalid) {
				t.Errorf("got %v, want invalid (retrying will not help)", a.Err)
			}
		})
	}
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// TestSSRFRanges is issue 13's SSRF table: one row per special-purpose
// range. The first, a middle and the last address of each are refused at
// dial time, with AllowPrivate on or off; IPv4-mapped forms of refused IPv4
// addresses too.
func TestSSRFRanges(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, sample string
	}{
		{"ThisNetwork", "0.0.0.0/8", "0.1.2.3"},
		{"Private10", "10.0.0.0/8", "10.20.30.40"},
		{"SharedCGNAT", "100.64.0.0/10", "100.100.100.200"},
		{"LinkLocalMetadata", "169.254.0.0/16", "169.254.169.254"},
		{"Private172", "172.16.0.0/12", "172.31.0.5"},
		{"IETFProtocol", "192.0.0.0/24", "192.0.0.170"},
		{"DocumentationTestNet1", "192.0.2.0/24", "192.0.2.10"},
		{"SixToFourRelay", "192.88.99.0/24", "192.88.99.1"},
		{"Private192", "192.168.0.0/16", "192.168.1.1"},
		{"Benchmarking", "198.18.0.0/15", "198.19.255.1"},
		{"DocumentationTestNet2", "198.51.100.0/24", "198.51.100.7"},
		{"DocumentationTestNet3", "203.0.113.0/24", "203.0.113.9"},
		{"Multicast", "224.0.0.0/4", "239.255.255.250"},
		{"ReservedAndBroadcast", "240.0.0.0/4", "255.255.255.255"},
		{"IPv4Compatible", "::/96", "::169.254.169.254"},
		{"NAT64", "64:ff9b::/96", "64:ff9b::a9fe:a9fe"},
		{"NAT64LocalUse", "64:ff9b:1::/48", "64:ff9b:1::a00:1"},
		{"DiscardOnly", "100::/64", "100::1"},
		{"Teredo", "2001::/32", "2001:0:4136:e378:8000:63bf:3fff:fdd2"},
		{"BenchmarkingV6", "2001:2::/48", "2001:2::1"},
		{"ORCHID", "2001:10::/28", "2001:10::1"},
		{"ORCHIDv2", "2001:20::/28", "2001:20::1"},
		{"DocumentationV6", "2001:db8::/32", "2001:db8::1"},
		{"SixToFour", "2002::/16", "2002:a9fe:a9fe::1"},
		{"DocumentationV6New", "3fff::/20", "3fff::1"},
		{"SegmentRouting", "5f00::/16", "5f00::1"},
		{"UniqueLocal", "fc00::/7", "fd00:ec2::254"},
		{"LinkLocalV6", "fe80::/10", "fe80::1"},
		{"SiteLocal", "fec0::/10", "fec0::1"},
		{"MulticastV6", "ff00::/8", "ff02::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pre := netip.MustParsePrefix(tc.prefix)
			sample := netip.MustParseAddr(tc.sample)
			if !pre.Contains(sample) {
				t.Fatalf("bad row: %s is not in %s", sample, pre)
			}
			addrs := []netip.Addr{pre.Masked().Addr(), sample, lastAddr(pre)}
			if sample.Is4() {
				addrs = append(addrs, netip.AddrFrom16(sample.As16())) // ::ffff:a.b.c.d
			}
			for _, a := range addrs {
				for _, p := range []Policy{{}, {AllowPrivate: true}} {
					if err := p.checkAddr(netip.AddrPortFrom(a, 443).String()); !errors.Is(err, ErrDestinationRefused) {
						t.Errorf("%s (AllowPrivate %v): got %v, want refused", a, p.AllowPrivate, err)
					}
				}
			}
		})
	}
}

// TestSSRFPublicAllowed: public addresses, including the neighbours of the
// refused ranges, are dialled (the guard is not a blanket refusal).
func TestSSRFPublicAllowed(t *testing.T) {
	for _, a := range []string{
		"1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.0", "198.17.255.255", "198.20.0.0",
		"223.255.255.255", "192.0.1.1", "2606:4700:4700::1111", "2a00:1450:4001::200e",
		"64:ff9a::1", "2001:1::1", "2003::1", "[::ffff:8.8.8.8]",
	} {
		a = strings.Trim(a, "[]")
		if err := (Policy{}).checkAddr(net.JoinHostPort(a, "443")); err != nil {
			t.Errorf("%s: got %v, want allowed", a, err)
		}
	}
}
