package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/egress-go/egress/bench/internal/harness"
)

// TestMain lets the test binary play the harness's roles: the scenario
// tests that run whole scenarios start it again as "role NAME PARAMS",
// as the harness binary starts itself.
func TestMain(m *testing.M) {
	if len(os.Args) >= 3 && os.Args[1] == "role" {
		fn, ok := Roles[os.Args[2]]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown role %q\n", os.Args[2])
			os.Exit(1)
		}
		var params []byte
		if len(os.Args) > 3 {
			params = []byte(os.Args[3])
		}
		if err := fn(params); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[2], err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestH2IdleGoal(t *testing.T) {
	rows := []harness.Row{
		{Scenario: "h2-idle", Client: "egress", Conns: 10000, BytesRSSPerConn: 9000},
		{Scenario: "h2-idle", Client: "nethttp", Conns: 10000, BytesRSSPerConn: 40000},
		{Scenario: "h2-idle", Client: "egress", Conns: 500, BytesRSSPerConn: 9000},
		{Scenario: "h2-idle", Client: "nethttp", Conns: 500, BytesRSSPerConn: 45000},
		{Scenario: "h2-idle", Client: "egress", Conns: 20, BytesRSSPerConn: 1},
		{Scenario: "h2-idle", Client: "nethttp", Conns: 20, Skipped: "failed: spoke HTTP/1.1"}, // no anchor, no goal
		{Scenario: "tls-idle", Client: "nethttp", Conns: 10000, BytesRSSPerConn: 1e6},          // another scenario's anchor
	}
	gs := Goals(rows)
	want := []struct {
		what string
		val  float64
		met  bool
	}{
		{"h2-idle 10000 conns: egress RSS vs nethttp", 0.225, false},
		{"h2-idle 500 conns: egress RSS vs nethttp", 0.2, true},
	}
	if len(gs) != len(want) {
		t.Fatalf("%d goals, want %d: %v", len(gs), len(want), gs)
	}
	for i, w := range want {
		if g := gs[i]; g.What != w.what || abs(g.Value-w.val) > 1e-9 || g.Met() != w.met || g.Limit != 0.2 {
			t.Errorf("goal %d: %s (value %v, met %v), want %q %v met %v", i, g, g.Value, g.Met(), w.what, w.val, w.met)
		}
	}
}

func TestH2IdleHosts(t *testing.T) {
	h, err := newH2IdleHosts([]string{"127.0.0.1:1001", "127.0.0.2:1002"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"127.0.0.1:1001", "127.0.0.2:1002", "127.0.0.1:1001"} {
		u := h.url(i)
		host, port, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(u, "https://"), "/idle"), ":")
		a, err := h.lookup(host)
		if err != nil || net.JoinHostPort(a.String(), port) != want {
			t.Errorf("connection %d: %s maps to %v:%s (%v), want %s", i, u, a, port, err, want)
		}
	}
	for _, bad := range []string{"example.com", "x1.h2idle.test", "c.h2idle.test", "c-1.h2idle.test", "c1.h2idle.test.evil"} {
		var dnsErr *net.DNSError
		if _, err := h.lookup(bad); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
			t.Errorf("%s: %v, want a not-found DNS error", bad, err)
		}
	}
}

// TestH2IdleScenario runs the h2-idle scenario as the harness does, at
// 200 connections: a server process and a process per client. Both
// clients must be measured (which they are only after checking that they
// hold 200 HTTP/2 connections); against a server that offers HTTP/1.1
// only, both must fail saying so. Not a benchmark: the figures are not
// checked beyond being there.
func TestH2IdleScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	old := harness.Patience
	harness.Patience.IdleWait, harness.Patience.Repeat = 0, false
	defer func() { harness.Patience = old }()
	const n = 200
	run := func(mode string) ([]harness.Row, string) {
		var rows []harness.Row
		var out bytes.Buffer
		if err := h2IdleScenario(Options{Rounds: 1, Out: &out, Results: &rows}, n, mode); err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(h2IdleClients) {
			t.Fatalf("%d rows, want %d:\n%s", len(rows), len(h2IdleClients), out.String())
		}
		for i, r := range rows {
			if r.Scenario != "h2-idle" || r.Client != h2IdleClients[i] || r.Conns != n {
				t.Errorf("row %d: %+v", i, r)
			}
		}
		return rows, out.String()
	}

	rows, table := run("")
	for _, r := range rows {
		// Heap per connection is the steadiest of the figures: an HTTP/2
		// connection over TLS holds some in both clients.
		if r.Skipped != "" || r.BytesHeapPerConn <= 0 {
			t.Errorf("%s: skipped %q, heap %.0f B/conn", r.Client, r.Skipped, r.BytesHeapPerConn)
		}
		t.Logf("%s: RSS %.0f, heap %.0f, stack %.0f B/conn", r.Client, r.BytesRSSPerConn, r.BytesHeapPerConn, r.BytesStackPerConn)
	}
	for _, want := range []string{"h2-idle: client memory per idle pooled HTTP/2 connection", "200 connections", "egress", "nethttp", "RSS B/conn"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}

	rows, _ = run("http1")
	for _, r := range rows {
		if !strings.Contains(r.Skipped, "not HTTP/2") {
			t.Errorf("%s against an HTTP/1.1 server: skipped %q, want a failure naming the protocol", r.Client, r.Skipped)
		}
	}
}

func TestH2IdleRegistered(t *testing.T) {
	found := false
	for _, s := range All {
		found = found || (s.Name == "h2-idle" && s.Run != nil)
	}
	if !found {
		t.Error("no h2-idle scenario")
	}
	for _, r := range []string{"h2-target-server", "h2idle-egress", "h2idle-nethttp"} {
		if Roles[r] == nil {
			t.Errorf("no role %s", r)
		}
	}
}
