package scenario

import (
	"fmt"

	"github.com/egress-go/egress/bench/internal/harness"
)

// The goals of issue 13: per shape of the http2 scenario, and h2-idle's.
const (
	goalH2VsH2load    = 1.00 // egress (Exchange) client CPU/request at most this times h2load's, every shape
	goalH2HTTPVsXNet  = 0.60 // egress-http CPU/request at most this times x/net/http2's, at goalH2HTTPShape
	goalH2NginxVsLoad = 1.10 // nginx's CPU/request under egress at most this times under h2load, every shape
	goalH2IdleRSS     = 0.20 // h2-idle: egress RSS per idle HTTP/2 connection at most this times net/http's
)

// goalH2HTTPShape is the shape the egress-http goal is set for.
var goalH2HTTPShape = h2Shape{Conns: 1, Streams: 100}

// http2Goals evaluates them for every shape and count that this run
// measured.
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
	return append(gs, h2IdleGoals(rows)...)
}

// h2IdleGoals compares egress's RSS per idle HTTP/2 connection with
// net/http's, at each count the h2-idle scenario measured.
func h2IdleGoals(rows []harness.Row) []Goal {
	nethttp := map[int]harness.Row{}
	for _, r := range rows {
		if r.Scenario == "h2-idle" && r.Client == "nethttp" && r.Skipped == "" {
			nethttp[r.Conns] = r
		}
	}
	var gs []Goal
	for _, r := range rows {
		if r.Scenario != "h2-idle" || r.Client != "egress" || r.Skipped != "" {
			continue
		}
		if base, ok := nethttp[r.Conns]; ok && base.BytesRSSPerConn > 0 {
			gs = append(gs, Goal{fmt.Sprintf("h2-idle %d conns: egress RSS vs nethttp", r.Conns), r.BytesRSSPerConn / base.BytesRSSPerConn, goalH2IdleRSS, true})
		}
	}
	return gs
}
