package localaws_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/psabridge/psabridge/shared/localaws"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// TestServersListenOnLoopbackOnly reads the kernel's socket tables
// (/proc/net/tcp and tcp6) for the listening sockets of DynamoDB Local and
// moto: each server listens, and only on a loopback address (127.0.0.0/8,
// ::1 or ::ffff:127.0.0.0/104), never on 0.0.0.0 or ::.
func TestServersListenOnLoopbackOnly(t *testing.T) {
	for _, env := range []string{localaws.EnvDynamoDB, localaws.EnvSQS} {
		t.Run(env, func(t *testing.T) {
			u, err := url.Parse(os.Getenv(env))
			if err != nil {
				t.Fatal(err)
			}
			port, err := strconv.Atoi(u.Port())
			if err != nil {
				t.Fatalf("%s=%q: no port", env, os.Getenv(env))
			}
			addrs := mustListening(t, port)
			if len(addrs) == 0 {
				t.Fatalf("port %d: no listening socket in /proc/net/tcp{,6}", port)
			}
			for _, a := range addrs {
				if !a.Unmap().IsLoopback() {
					t.Errorf("port %d: listens on %s, want loopback only", port, a)
				}
			}
		})
	}
}

// TestListeningParsesKernelTables checks the parser on lines as the kernel
// writes them (wildcard, IPv4 loopback, IPv4-mapped loopback, IPv6 any).
func TestListeningParsesKernelTables(t *testing.T) {
	for _, c := range []struct{ hex, want string }{
		{"00000000", "0.0.0.0"},
		{"0100007F", "127.0.0.1"},
		{"0000000000000000FFFF00000100007F", "::ffff:127.0.0.1"},
		{"00000000000000000000000000000000", "::"},
		{"00000000000000000000000001000000", "::1"},
	} {
		got, err := kernelAddr(c.hex)
		if err != nil || got.String() != c.want {
			t.Errorf("%s: got %v (%v), want %s", c.hex, got, err, c.want)
		}
	}
}

// mustListening returns the local addresses of the sockets in state LISTEN
// on port.
func mustListening(tb testing.TB, port int) []netip.Addr {
	tb.Helper()
	var out []netip.Addr
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // 0A: TCP_LISTEN
				continue
			}
			host, p, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if n, err := strconv.ParseUint(p, 16, 16); err != nil || int(n) != port {
				continue
			}
			a, err := kernelAddr(host)
			if err != nil {
				tb.Fatalf("%s: %v", table, err)
			}
			out = append(out, a)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// kernelAddr decodes an address of /proc/net/tcp{,6}: 32-bit words in host
// (little-endian) byte order.
func kernelAddr(h string) (netip.Addr, error) {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return netip.Addr{}, fmt.Errorf("bad address %q", h)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	a, _ := netip.AddrFromSlice(b)
	return a, nil
}
