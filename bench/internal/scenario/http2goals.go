package scenario

import (
	"fmt"

	"github.com/egress-go/egress/bench/internal/harness"
)

// The goals of issue 13, per shape of the http2 scenario.
const (
	goalH2VsH2load    = 1.00 // egress (Exchange) client CPU/request at most this times h2load's, every shape
	goalH2HTTPVsXNet  = 0.60 // egress-http CPU/request at most this times x/net/http2's, at goalH2HTTPShape
	goalH2NginxVsLoad = 1.10 // nginx's CPU/request under egress at most this times under h2load, every shape
)

// goalH2HTTPShape is the shape the egress-http goal is set for.
var goalH2HTTPShape = h2Shape{Conns: 1, Streams: 100}

// http2Goals evaluates them for every shape that this run measured.
func http2Goals(rows []harness.Row) []Goal {
	by := map[h2Shape]map[string]harness.Row{}
	var order []h2Shape
	for _, r := range rows {
		if r.Scenario != "http2" || r.Skipped != "" {
			continue
		}
		k := h2Shape{r.Conns, r.Streams}
		if by[k] == nil {
			by[k] = map[string]harness.Row{}
			order = append(order, k)
		}
		by[k][r.Client] = r
	}
	var gs []Goal
	for _, k := range order {
		m := by[k]
		e, ok := m["egress"]
		name := fmt.Sprintf("http2 %dx%d:", k.Conns, k.Streams) // connections x streams
		if h, hok := m["h2load"]; ok && hok {
			if h.CPUUsPerReq > 0 {
				gs = append(gs, Goal{name + " egress cpu/req vs h2load", e.CPUUsPerReq / h.CPUUsPerReq, goalH2VsH2load, true})
			}
			if h.ServerCPUUsPerReq > 0 {
				gs = append(gs, Goal{name + " nginx cpu/req, egress vs h2load", e.ServerCPUUsPerReq / h.ServerCPUUsPerReq, goalH2NginxVsLoad, true})
			}
		}
		if k != goalH2HTTPShape {
			continue
		}
		eh, ok := m["egress-http"]
		if x, xok := m["xnet"]; ok && xok && x.CPUUsPerReq > 0 {
			gs = append(gs, Goal{name + " egress-http cpu/req vs xnet", eh.CPUUsPerReq / x.CPUUsPerReq, goalH2HTTPVsXNet, true})
		}
	}
	return gs
}
