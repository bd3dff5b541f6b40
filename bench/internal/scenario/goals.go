package scenario

import (
	"fmt"
	"io"

	"github.com/egress-go/egress/bench/internal/harness"
)

// The goals of issues 3 and 7, checked against the rows of this run; those
// of issue 8 are in redisgoals.go, those of issue 13 in http2goals.go,
// those of issue 14 in http1goals.go and azblobgoals.go, those of issue
// 16 in redisclustergoals.go.
const (
	goalCPUvsWrk     = 1.00 // http1-small pinned: egress CPU/request at most this times wrk's
	goalCPUvsFast    = 0.85 // ... and at most this times fasthttp's
	goalIdleRSSBytes = 512  // idle: RSS per idle egress HTTP connection
	goalTLSIdle      = 0.5  // tls-idle: engine-tls bytes per connection at most this times tlsconn's
)

// Goal is one goal's verdict.
type Goal struct {
	What  string
	Value float64 // the measured ratio or figure
	Limit float64
	Less  bool // met when Value <= Limit (else when Value >= Limit)
}

// Met reports whether the goal was reached.
func (g Goal) Met() bool {
	if g.Less {
		return g.Value <= g.Limit
	}
	return g.Value >= g.Limit
}

func (g Goal) String() string {
	verdict := "met"
	if !g.Met() {
		verdict = fmt.Sprintf("MISSED by %.0f%%", 100*abs(g.Value-g.Limit)/g.Limit)
	}
	op := ">="
	if g.Less {
		op = "<="
	}
	return fmt.Sprintf("%-58s %8.2f (goal %s %.2f): %s", g.What, g.Value, op, g.Limit, verdict)
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// Goals evaluates every goal whose rows this run has.
func Goals(rows []harness.Row) []Goal {
	var gs []Goal
	by := map[[3]any]harness.Row{}
	for _, r := range rows {
		if r.Skipped == "" {
			by[[3]any{r.Scenario + "/" + r.Client, r.Conns, r.Pinned}] = r
		}
	}
	get := func(scenario, client string, conns int, pinned bool) (harness.Row, bool) {
		r, ok := by[[3]any{scenario + "/" + client, conns, pinned}]
		return r, ok
	}
	for _, conns := range []int{64, 256} {
		e, ok := get("http1-small", "egress", conns, true)
		if !ok {
			continue
		}
		if w, ok := get("http1-small", "wrk", conns, true); ok && w.CPUUsPerReq > 0 {
			gs = append(gs, Goal{fmt.Sprintf("http1-small pinned %d conns: egress cpu/req vs wrk", conns), e.CPUUsPerReq / w.CPUUsPerReq, goalCPUvsWrk, true})
		}
		if f, ok := get("http1-small", "fasthttp", conns, true); ok && f.CPUUsPerReq > 0 {
			gs = append(gs, Goal{fmt.Sprintf("http1-small pinned %d conns: egress cpu/req vs fasthttp", conns), e.CPUUsPerReq / f.CPUUsPerReq, goalCPUvsFast, true})
		}
	}
	if e, ok := get("http1-big", "egress", 64, true); ok {
		if f, ok := get("http1-big", "fasthttp", 64, true); ok && f.RPS > 0 {
			gs = append(gs, Goal{"http1-big 64 conns: egress req/s vs fasthttp", e.RPS / f.RPS, 1, false})
		}
	}
	for _, r := range rows {
		if r.Scenario == "idle" && r.Client == "egress" && r.Skipped == "" {
			gs = append(gs, Goal{fmt.Sprintf("idle %d conns: egress RSS bytes per idle HTTP connection", r.Conns), r.BytesRSSPerConn, goalIdleRSSBytes, true})
		}
	}
	for _, r := range rows {
		if r.Scenario != "tls-idle" || r.Client != "engine-tls" || r.Skipped != "" {
			continue
		}
		base, ok := get("tls-idle", "tlsconn", r.Conns, r.Pinned)
		if !ok {
			continue
		}
		if base.BytesRSSPerConn > 0 {
			gs = append(gs, Goal{fmt.Sprintf("tls-idle %d conns: engine-tls RSS vs tlsconn", r.Conns), r.BytesRSSPerConn / base.BytesRSSPerConn, goalTLSIdle, true})
		}
		if b := base.BytesHeapPerConn + base.BytesStackPerConn; b > 0 {
			gs = append(gs, Goal{fmt.Sprintf("tls-idle %d conns: engine-tls heap+stack vs tlsconn", r.Conns), (r.BytesHeapPerConn + r.BytesStackPerConn) / b, goalTLSIdle, true})
		}
	}
	gs = append(gs, redisGoals(rows)...)
	gs = append(gs, redisClusterGoals(rows)...)
	gs = append(gs, http2Goals(rows)...)
	gs = append(gs, dropInGoals(rows)...)
	return append(gs, azblobGoals(rows)...)
}

// PrintGoals writes the goals summary.
func PrintGoals(w io.Writer, rows []harness.Row) {
	gs := Goals(rows)
	if len(gs) == 0 {
		return
	}
	fmt.Fprintf(w, "\ngoals (issues 3, 7, 8, 13, 14 and 16)\n")
	for _, g := range gs {
		fmt.Fprintf(w, "  %s\n", g)
	}
}
