package scenario

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/bench/internal/nginx"
	"github.com/egress-go/egress/internal/testkit"
)

func TestHTTP2Goals(t *testing.T) {
	row := func(client string, conns, streams int, cpu, nginx float64) harness.Row {
		return harness.Row{Scenario: "http2", Client: client, Conns: conns, Streams: streams, Pinned: true, CPUUsPerReq: cpu, ServerCPUUsPerReq: nginx}
	}
	rows := []harness.Row{
		row("egress", 1, 100, 9, 5),
		row("egress-http", 1, 100, 12, 6),
		row("h2load", 1, 100, 10, 5),
		row("xnet", 1, 100, 19, 7),
		row("egress", 4, 100, 11, 6),
		row("h2load", 4, 100, 10, 5),
		row("egress-http", 4, 100, 1, 1), // the egress-http goal is for 1 x 100 only
		row("xnet", 4, 100, 100, 1),
		row("egress", 64, 1, 20, 10),
		{Scenario: "http2", Client: "h2load", Conns: 64, Streams: 1, Skipped: "not installed"},
	}
	gs := Goals(rows)
	want := []struct {
		what string
		val  float64
		met  bool
	}{
		{"http2 1x100: egress cpu/req vs h2load", 0.9, true},
		{"http2 1x100: nginx cpu/req, egress vs h2load", 1.0, true},
		{"http2 1x100: egress-http cpu/req vs xnet", 12.0 / 19, false},
		{"http2 4x100: egress cpu/req vs h2load", 1.1, false},
		{"http2 4x100: nginx cpu/req, egress vs h2load", 1.2, false},
	}
	if len(gs) != len(want) {
		t.Fatalf("%d goals, want %d: %v", len(gs), len(want), gs)
	}
	for i, w := range want {
		g := gs[i]
		if g.What != w.what || abs(g.Value-w.val) > 1e-9 || g.Met() != w.met {
			t.Errorf("goal %d: %s (value %v, met %v), want %q %v met %v", i, g, g.Value, g.Met(), w.what, w.val, w.met)
		}
	}
	var buf bytes.Buffer
	PrintGoals(&buf, rows)
	if !strings.Contains(buf.String(), "issues 3, 7, 8, 13, 14 and 16") || !strings.Contains(buf.String(), "MISSED by 9%") { // nginx 1.2 against 1.1
		t.Fatalf("summary:\n%s", buf.String())
	}
}

func TestHTTP2Scenario(t *testing.T) {
	found := false
	for _, s := range All {
		found = found || s.Name == "http2"
	}
	if !found {
		t.Fatal("no http2 scenario")
	}
	for _, c := range h2Clients {
		if c != "h2load" && Roles["h2-"+c] == nil {
			t.Errorf("client %s has no role", c)
		}
	}
	want := map[h2Shape]bool{{1, 100}: true, {4, 100}: true, {64, 1}: true}
	for _, sh := range h2Shapes {
		delete(want, sh)
	}
	if len(want) != 0 {
		t.Errorf("shapes missing: %v", want)
	}
}

// TestHTTP2ClientsCheckProtocol starts the real nginx over TLS and checks
// what the http2 scenario relies on before it measures: every Go client
// verifies the certificate and speaks HTTP/2 to it, and the check fails a
// client that does not trust the certificate or that speaks HTTP/1.1. A
// handful of requests, not a benchmark.
func TestHTTP2ClientsCheckProtocol(t *testing.T) {
	bin := testkit.RequirePeer(t, "nginx", "scripts/install-deps.sh (Debian package nginx)")
	t.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	certPEM, keyPEM, err := newCert()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := nginx.StartTLS(t.TempDir(), -1, 16, certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	plain, err := nginx.Start(t.TempDir(), -1, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Stop()
	strange, _, err := newCert()
	if err != nil {
		t.Fatal(err)
	}
	good := Params{URL: srv.URL(nginx.SmallPath), Conns: 2, Size: len(nginx.SmallBody), CertPEM: certPEM}
	untrusted := good
	untrusted.CertPEM = strange
	h1 := good
	h1.URL = plain.URL(nginx.SmallPath)
	for _, client := range []string{"egress-http", "xnet", "nethttp"} {
		rts, err := h2RoundTrippers(client, good)
		if err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		if len(rts) != 2 {
			t.Fatalf("%s: %d round trippers", client, len(rts))
		}
		for _, rt := range rts {
			if err := checkH2(rt, good); err != nil {
				t.Errorf("%s over h2: %v", client, err)
			}
		}
		if err := buildAndCheck(client, untrusted); err == nil {
			t.Errorf("%s: no error from a server whose certificate it does not trust", client)
		}
		if err := buildAndCheck(client, h1); err == nil {
			t.Errorf("%s: no error from an HTTP/1.1 server", client)
		}
	}
}

// buildAndCheck makes a client's round trippers and checks the first:
// the egress Transports check themselves as they are made.
func buildAndCheck(client string, p Params) error {
	rts, err := h2RoundTrippers(client, p)
	if err != nil {
		return err
	}
	return checkH2(rts[0], p)
}
