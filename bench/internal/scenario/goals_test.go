package scenario

import (
	"bytes"
	"strings"
	"testing"

	"github.com/egress-go/egress/bench/internal/harness"
)

func TestGoals(t *testing.T) {
	rows := []harness.Row{
		{Scenario: "http1-small", Client: "egress", Conns: 64, Pinned: true, CPUUsPerReq: 8},
		{Scenario: "http1-small", Client: "wrk", Conns: 64, Pinned: true, CPUUsPerReq: 8.5},
		{Scenario: "http1-small", Client: "fasthttp", Conns: 64, Pinned: true, CPUUsPerReq: 9},
		{Scenario: "http1-small", Client: "egress", Conns: 64, Pinned: false, CPUUsPerReq: 100}, // unpinned: no goal
		{Scenario: "http1-big", Client: "egress", Conns: 64, Pinned: true, RPS: 900},
		{Scenario: "http1-big", Client: "fasthttp", Conns: 64, Pinned: true, RPS: 1000},
		{Scenario: "idle", Client: "egress", Conns: 10000, BytesRSSPerConn: 400},
		{Scenario: "idle", Client: "nethttp", Conns: 10000, BytesRSSPerConn: 30000},
		{Scenario: "tls-idle", Client: "engine-tls", Conns: 10000, BytesRSSPerConn: 9000, BytesHeapPerConn: 7000, BytesStackPerConn: 10},
		{Scenario: "tls-idle", Client: "tlsconn", Conns: 10000, BytesRSSPerConn: 16000, BytesHeapPerConn: 12000, BytesStackPerConn: 4000},
	}
	gs := Goals(rows)
	if len(gs) != 6 {
		t.Fatalf("%d goals: %v", len(gs), gs)
	}
	// vs wrk 0.94, vs fasthttp 0.89 > 0.85, big 0.9 < 1, idle 400 <= 512,
	// TLS RSS 0.5625 > 0.5, TLS heap+stack 0.438 <= 0.5
	met := []bool{true, false, false, true, false, true}
	for i, g := range gs {
		if g.Met() != met[i] {
			t.Errorf("goal %d %s: met %v", i, g, g.Met())
		}
	}
	var buf bytes.Buffer
	PrintGoals(&buf, rows)
	if !strings.Contains(buf.String(), "MISSED by 10%") { // http1-big: 0.90 against 1.00
		t.Fatalf("summary:\n%s", buf.String())
	}
}

func TestGoalsIgnoreSkipped(t *testing.T) {
	if gs := Goals([]harness.Row{{Scenario: "idle", Client: "egress", Conns: 10, Skipped: "not ready"}}); len(gs) != 0 {
		t.Fatalf("goal from a skipped row: %v", gs)
	}
}

func TestScenarioNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range All {
		if seen[s.Name] || s.Run == nil || s.Doc == "" {
			t.Fatalf("scenario %q duplicated or incomplete", s.Name)
		}
		seen[s.Name] = true
	}
	for _, want := range []string{"http1-small", "http1-big", "idle", "echo", "tls-handshake", "tls-idle"} {
		if !seen[want] {
			t.Errorf("scenario %s missing", want)
		}
	}
}
