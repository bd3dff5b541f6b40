package scenario

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/egress-go/egress/bench/internal/anchor"
	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/bench/internal/nginx"
)

func init() {
	// For profiling by hand: "harness role nginx '{"conns":256}'" runs
	// the benchmark's nginx, unpinned, until it is interrupted, and prints
	// its address.
	Roles["nginx"] = func(params []byte) error {
		p, err := decode(params)
		if err != nil {
			return err
		}
		return withNginx(false, max(p.Conns, 256), func(srv *nginx.Server) {
			ready(srv.Addr)
			waitForStop()
		})
	}
}

// httpClients are the HTTP/1.1 clients, in the order they take turns.
// http1-small adds fasthttp-http, fasthttp behind http.Client: what the
// API egress-http implements costs by itself for a small response.
var (
	httpClients      = []string{"egress", "egress-http", "fasthttp", "nethttp", "wrk", "h2load"}
	httpSmallClients = []string{"egress", "egress-http", "fasthttp", "fasthttp-http", "nethttp", "wrk", "h2load"}
)

// Cores when pinned: the server on one, the client on the other.
const serverCore, clientCore = 0, 1

func runHTTP1Small(o Options) error {
	for _, pinned := range []bool{true, false} {
		err := withNginx(pinned, 256, func(srv *nginx.Server) {
			for _, conns := range []int{64, 256} {
				httpTable(o, srv, httpSmallClients, "http1-small", nginx.SmallPath, len(nginx.SmallBody), conns, pinned)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func runHTTP1Big(o Options) error {
	return withNginx(true, 64, func(srv *nginx.Server) {
		httpTable(o, srv, httpClients, "http1-big", nginx.BigPath, nginx.BigSize, 64, true)
	})
}

// withNginx runs fn with nginx started in a temporary folder, pinned to
// the server core or not, and stops it afterwards.
func withNginx(pinned bool, conns int, fn func(*nginx.Server)) error {
	dir, err := os.MkdirTemp("", "egress-bench-nginx-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := nginx.Start(dir, core(pinned, serverCore), conns)
	if err != nil {
		return err
	}
	defer srv.Stop()
	fn(srv)
	return nil
}

func core(pinned bool, c int) int {
	if pinned {
		return c
	}
	return -1
}

func httpTable(o Options, srv *nginx.Server, clients []string, scenario, path string, size, conns int, pinned bool) {
	url := srv.URL(path)
	tmpl := harness.Row{Scenario: scenario, Conns: conns, Pinned: pinned}
	rows := runClients(o, tmpl, clients, func(client string) (harness.Row, time.Duration, error) {
		cpu0 := srv.CPU()
		r, own, err := httpOnce(o, client, url, size, conns, pinned, o.profilePath(scenario, client, conns, pinned))
		return r, own + srv.CPU() - cpu0, err
	})
	where := "nginx on core 0, client on core 1"
	if !pinned {
		where = "nginx and client unpinned on both cores"
	}
	t := harness.Table{
		Title: fmt.Sprintf("%s (%s): GET %s (%d bytes), keep-alive, %d connections; %s",
			scenario, pinName(pinned), path, size, conns, where),
		Rows: rows,
		Cols: []harness.Column{
			{Name: "req/s", Get: func(r harness.Row) float64 { return r.RPS }, Vs: []string{"wrk", "fasthttp"}},
			{Name: "cpu us/req", Get: func(r harness.Row) float64 { return r.CPUUsPerReq }, Vs: []string{"wrk", "fasthttp"}},
			{Name: "p50 us", Get: func(r harness.Row) float64 { return r.P50Us }},
			{Name: "p99 us", Get: func(r harness.Row) float64 { return r.P99Us }},
		},
		Notes: []string{
			"cpu us/req: client user+sys CPU / requests; Go clients over the measurement window after warm-up,",
			"  wrk and h2load over their whole process (rusage of the child, connection set-up included).",
			"h2load prints no percentiles. Other cpu: share of a core used by other processes during the run.",
		},
	}
	t.Notes = append(t.Notes, errorNotes(rows)...)
	t.Print(o.Out)
}

func pinName(pinned bool) string {
	if pinned {
		return "pinned"
	}
	return "unpinned"
}

// errorNotes lists clients that saw failed requests: their figures count
// only the successful ones, and a reader should know.
func errorNotes(rows []harness.Row) []string {
	var notes []string
	for _, r := range rows {
		if r.Errors > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d failed requests over its rounds", r.Client, r.Errors))
		}
	}
	return notes
}

// httpOnce runs one HTTP client once and returns its row and the CPU
// time of its process.
func httpOnce(o Options, client, url string, size, conns int, pinned bool, profile string) (harness.Row, time.Duration, error) {
	threads := 1 // the C anchors get one thread per core they may use
	if !pinned {
		threads = runtime.NumCPU()
	}
	var res anchor.Result
	var err error
	switch client {
	case "wrk":
		res, err = anchor.Wrk(core(pinned, clientCore), threads, conns, o.Duration, url)
	case "h2load":
		res, err = anchor.H2load(core(pinned, clientCore), threads, conns, o.Duration, url)
	default:
		return harness.RunChild(core(pinned, clientCore), "http-"+client, Params{
			URL: url, Conns: conns, Size: size, Duration: o.Duration, Warmup: warmup(o), Profile: profile,
		}, client)
	}
	if err != nil {
		return harness.Row{}, 0, err
	}
	return harness.Row{
		Client: client, RPS: res.RPS, CPUUsPerReq: res.CPUPerRequest(),
		P50Us: us(res.P50), P99Us: us(res.P99), Errors: res.Errors, WholeProcess: true,
	}, res.CPU, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// warmup is the time a Go client runs before its measurement window:
// enough to open its connections and reach a steady state (tens of
// thousands of requests), and short, since every client run pays it.
func warmup(o Options) time.Duration {
	if o.Quick {
		return 300 * time.Millisecond
	}
	return 500 * time.Millisecond
}
