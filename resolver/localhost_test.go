package resolver

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// The only real lookups in this package are of "localhost", and only where
// the system answers it from /etc/hosts without the network: hosts file
// first in nsswitch.conf, and a localhost line in /etc/hosts. Anywhere
// else the tests skip rather than risk a query to a real name server.
func requireLocalHosts(t *testing.T) {
	t.Helper()
	if f, err := os.Open("/etc/nsswitch.conf"); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			if len(fields) >= 2 && fields[0] == "hosts:" && fields[1] != "files" {
				t.Skipf("nsswitch.conf does not consult files first: %q", s.Text())
			}
		}
	}
	data, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Skipf("no /etc/hosts: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "127.0.0.1" {
			continue
		}
		for _, name := range fields[1:] {
			if name == "localhost" {
				return
			}
		}
	}
	t.Skip("/etc/hosts does not map localhost to 127.0.0.1")
}

// noDial is a Go resolver that fails the test instead of sending a query.
func noDial(t *testing.T) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			t.Errorf("DNS query attempted to %s %s", network, address)
			return nil, errors.New("no name server in tests")
		},
	}
}

// TestLocalhostDefaultLookup uses the default Config.Lookup, the system
// resolver, which answers IPv4 as mapped IPv6; the Resolver unmaps it.
func TestLocalhostDefaultLookup(t *testing.T) {
	requireLocalHosts(t)
	r := newTest(t, Config{})
	for _, network := range []string{"ip", "ip4"} {
		addrs, err := r.Lookup(context.Background(), network, "localhost")
		if err != nil {
			t.Fatalf("%s localhost: %v", network, err)
		}
		if !contains(addrs, "127.0.0.1") {
			t.Errorf("%s localhost = %v, want 127.0.0.1 among them", network, addrs)
		}
	}
	if s := r.Stats(); s.Lookups != 2 {
		t.Errorf("Lookups = %d, want 2", s.Lookups)
	}
}

// TestLocalhostNoNetwork is the same through a Go resolver whose dialer
// fails the test, proving that the answer came from the hosts file.
func TestLocalhostNoNetwork(t *testing.T) {
	requireLocalHosts(t)
	r := newTest(t, Config{Lookup: noDial(t).LookupNetIP})
	addrs, err := r.Lookup(context.Background(), "ip4", "localhost")
	if err != nil || !contains(addrs, "127.0.0.1") || !addrs[0].Is4() {
		t.Fatalf("ip4 localhost = %v, %v; want 127.0.0.1", addrs, err)
	}
	// Where localhost has no IPv6 line, "ip6" is "no suitable address",
	// which must read as not found.
	addrs, err = r.Lookup(context.Background(), "ip6", "localhost")
	if err != nil && !errors.Is(err, ErrNotFound) {
		t.Errorf("ip6 localhost: %v, want an answer or ErrNotFound", err)
	}
	if err == nil && !contains(addrs, "::1") {
		t.Errorf("ip6 localhost = %v, want ::1", addrs)
	}
}

func contains(addrs []netip.Addr, want string) bool {
	for _, a := range addrs {
		if a.String() == want {
			return true
		}
	}
	return false
}
