package scenario

import "github.com/egress-go/egress/bench/internal/harness"

// The goals of issue 14 through a real SDK (the azblob scenario): with
// egress as the blob client's transport, a streamed download costs no
// more CPU per GiB than with net/http, and neither a download nor an
// upload peaks at more RSS.
const (
	goalAzDownloadCPU = 1.00 // download: egress CPU s/GiB at most this times net/http's
	goalAzPeakRSS     = 1.00 // download and upload: egress peak RSS at most this times net/http's
)

func azblobGoals(rows []harness.Row) []Goal {
	by := map[[2]string]harness.Row{}
	for _, r := range rows {
		if r.Scenario == "azblob" && r.Skipped == "" {
			by[[2]string{r.Op, r.Client}] = r
		}
	}
	var gs []Goal
	for _, op := range []string{"download", "upload"} {
		e, eok := by[[2]string{op, "egress"}]
		n, nok := by[[2]string{op, "nethttp"}]
		if !eok || !nok {
			continue
		}
		if op == "download" && n.CPUSecPerGiB > 0 {
			gs = append(gs, Goal{"azblob download: egress cpu s/GiB vs nethttp", e.CPUSecPerGiB / n.CPUSecPerGiB, goalAzDownloadCPU, true})
		}
		if n.PeakRSSBytes > 0 {
			gs = append(gs, Goal{"azblob " + op + ": egress peak RSS vs nethttp", e.PeakRSSBytes / n.PeakRSSBytes, goalAzPeakRSS, true})
		}
	}
	return gs
}
