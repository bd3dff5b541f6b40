package scenario

import (
	"fmt"

	"github.com/egress-go/egress/bench/internal/harness"
)

// The goals of issue 14 for the drop-in path (egress-http: http.Client
// over egress's Transport) in the http1 scenarios; the Azure SDK's are in
// azblobgoals.go.
const (
	goalDropInBigVsFast     = 1.00 // http1-big: egress-http req/s at least this times fasthttp's
	goalDropInBigVsExchange = 0.90 // ... and at least this times egress's (Exchange API)
	goalDropInBigCPU        = 1.10 // ... with CPU/request at most this times egress's
	goalDropInSmallVsFast   = 1.00 // http1-small pinned: egress-http CPU/request at most this times fasthttp's
	goalDropInSmallVsWrk    = 1.25 // ... and at most this times wrk's
)

func dropInGoals(rows []harness.Row) []Goal {
	by := map[string]harness.Row{}
	for _, r := range rows {
		if r.Skipped == "" && r.Pinned {
			by[fmt.Sprintf("%s/%s/%d", r.Scenario, r.Client, r.Conns)] = r
		}
	}
	get := func(scenario, client string, conns int) (harness.Row, bool) {
		r, ok := by[fmt.Sprintf("%s/%s/%d", scenario, client, conns)]
		return r, ok
	}
	var gs []Goal
	if h, ok := get("http1-big", "egress-http", 64); ok {
		if f, ok := get("http1-big", "fasthttp", 64); ok && f.RPS > 0 {
			gs = append(gs, Goal{"http1-big 64 conns: egress-http req/s vs fasthttp", h.RPS / f.RPS, goalDropInBigVsFast, false})
		}
		if e, ok := get("http1-big", "egress", 64); ok && e.RPS > 0 && e.CPUUsPerReq > 0 {
			gs = append(gs, Goal{"http1-big 64 conns: egress-http req/s vs egress", h.RPS / e.RPS, goalDropInBigVsExchange, false})
			gs = append(gs, Goal{"http1-big 64 conns: egress-http cpu/req vs egress", h.CPUUsPerReq / e.CPUUsPerReq, goalDropInBigCPU, true})
		}
	}
	for _, conns := range []int{64, 256} {
		h, ok := get("http1-small", "egress-http", conns)
		if !ok {
			continue
		}
		if f, ok := get("http1-small", "fasthttp", conns); ok && f.CPUUsPerReq > 0 {
			gs = append(gs, Goal{fmt.Sprintf("http1-small pinned %d conns: egress-http cpu/req vs fasthttp", conns), h.CPUUsPerReq / f.CPUUsPerReq, goalDropInSmallVsFast, true})
		}
		if w, ok := get("http1-small", "wrk", conns); ok && w.CPUUsPerReq > 0 {
			gs = append(gs, Goal{fmt.Sprintf("http1-small pinned %d conns: egress-http cpu/req vs wrk", conns), h.CPUUsPerReq / w.CPUUsPerReq, goalDropInSmallVsWrk, true})
		}
	}
	return gs
}
