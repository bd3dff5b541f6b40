package scenario

import (
	"testing"

	"github.com/egress-go/egress/bench/internal/harness"
)

func TestDropInGoals(t *testing.T) {
	row := func(scenario, client string, conns int, rps, cpu float64) harness.Row {
		return harness.Row{Scenario: scenario, Client: client, Conns: conns, Pinned: true, RPS: rps, CPUUsPerReq: cpu}
	}
	rows := []harness.Row{
		row("http1-big", "egress-http", 64, 1800, 200),
		row("http1-big", "egress", 64, 2000, 190),
		row("http1-big", "fasthttp", 64, 2000, 180),
		row("http1-small", "egress-http", 64, 0, 10),
		row("http1-small", "fasthttp", 64, 0, 11),
		row("http1-small", "wrk", 64, 0, 9),
	}
	want := map[string]struct {
		v   float64
		met bool
	}{
		"http1-big 64 conns: egress-http req/s vs fasthttp":            {0.9, false},
		"http1-big 64 conns: egress-http req/s vs egress":              {0.9, true},
		"http1-big 64 conns: egress-http cpu/req vs egress":            {200.0 / 190, true},
		"http1-small pinned 64 conns: egress-http cpu/req vs fasthttp": {10.0 / 11, true},
		"http1-small pinned 64 conns: egress-http cpu/req vs wrk":      {10.0 / 9, true},
	}
	gs := dropInGoals(rows)
	if len(gs) != len(want) {
		t.Fatalf("%d goals, want %d: %v", len(gs), len(want), gs)
	}
	for _, g := range gs {
		w, ok := want[g.What]
		if !ok {
			t.Fatalf("unexpected goal %q", g.What)
		}
		if d := g.Value - w.v; d > 1e-9 || d < -1e-9 || g.Met() != w.met {
			t.Errorf("%s: %.3f met=%v, want %.3f met=%v", g.What, g.Value, g.Met(), w.v, w.met)
		}
	}
}
