package scenario

import (
	"fmt"
	"os"
	"time"

	"github.com/egress-go/egress/bench/internal/anchor"
	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/bench/internal/nginx"
)

// h2Clients are the HTTP/2 clients, in the order they take turns.
var h2Clients = []string{"egress", "egress-http", "h2load", "xnet", "nethttp"}

// h2Shape is a load: Conns connections with Streams requests in flight
// on each.
type h2Shape struct{ Conns, Streams int }

// h2Shapes are the http2 scenario's loads: many streams on few
// connections, and many connections of one stream each.
var h2Shapes = []h2Shape{{1, 100}, {4, 100}, {64, 1}}

// runHTTP2 runs nginx over HTTP/2 and TLS 1.3 on the server core, with a
// fresh certificate that the clients trust, and measures every shape.
func runHTTP2(o Options) error {
	certPEM, keyPEM, err := newCert()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "egress-bench-nginx-h2-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := nginx.StartTLS(dir, serverCore, 256, certPEM, keyPEM)
	if err != nil {
		return err
	}
	defer srv.Stop()
	for _, sh := range h2Shapes {
		http2Table(o, srv, certPEM, sh)
	}
	return nil
}

func http2Table(o Options, srv *nginx.Server, certPEM []byte, sh h2Shape) {
	const scenario = "http2"
	url := srv.URL(nginx.SmallPath)
	tmpl := harness.Row{Scenario: scenario, Conns: sh.Conns, Streams: sh.Streams, Pinned: true}
	rows := runClients(o, tmpl, h2Clients, func(client string) (harness.Row, time.Duration, error) {
		cpu0 := srv.CPU()
		var r harness.Row
		var own time.Duration
		var err error
		if client == "h2load" {
			var res anchor.Result
			res, err = anchor.H2loadH2(clientCore, sh.Conns, sh.Streams, o.Duration, url)
			r = harness.Row{
				Client: client, RPS: res.RPS, CPUUsPerReq: res.CPUPerRequest(),
				Errors: res.Errors, WholeProcess: true,
				ServerCPUUsPerReq: perRequest(srv.CPU()-cpu0, res.Requests),
			}
			own = res.CPU
		} else {
			r, own, err = harness.RunChild(clientCore, "h2-"+client, Params{
				URL: url, Conns: sh.Conns, Streams: sh.Streams, Size: len(nginx.SmallBody),
				Duration: o.Duration, Warmup: warmup(o), CertPEM: certPEM, ServerPID: srv.PID(),
				Profile: o.profilePath(fmt.Sprintf("%s-m%d", scenario, sh.Streams), client, sh.Conns, true),
			}, client)
		}
		return r, own + srv.CPU() - cpu0, err
	})
	vs := []string{"h2load"}
	t := harness.Table{
		Title: fmt.Sprintf("%s (pinned): GET %s (%d bytes) over TLS 1.3, %d connections x %d streams; nginx on core 0, client on core 1",
			scenario, nginx.SmallPath, len(nginx.SmallBody), sh.Conns, sh.Streams),
		Rows: rows,
		Cols: []harness.Column{
			{Name: "req/s", Get: func(r harness.Row) float64 { return r.RPS }, Vs: vs},
			{Name: "cpu us/req", Get: func(r harness.Row) float64 { return r.CPUUsPerReq }, Vs: vs},
			{Name: "p50 us", Get: func(r harness.Row) float64 { return r.P50Us }},
			{Name: "p99 us", Get: func(r harness.Row) float64 { return r.P99Us }},
			{Name: "nginx us/req", Get: func(r harness.Row) float64 { return r.ServerCPUUsPerReq }, Vs: vs},
		},
		Notes: []string{
			"cpu us/req: client user+sys CPU / requests; Go clients over the measurement window after warm-up,",
			"  h2load over its whole process (connection set-up included). h2load prints no percentiles and does not verify",
			"  the certificate; the Go clients do. nginx us/req: nginx's CPU (master+worker, from /proc) / requests, over",
			"  the client's window (h2load: its whole run). Every client is checked to speak HTTP/2 before it is measured.",
			"egress: Exchange API; egress-http: http.Client over egress.Transport; xnet: golang.org/x/net/http2's Transport;",
			"  nethttp: net/http's Transport. Each connection is a Transport of its own (h2load: -c conns -m streams).",
		},
	}
	t.Notes = append(t.Notes, errorNotes(rows)...)
	t.Print(o.Out)
}

// perRequest is d in microseconds per request, 0 without requests.
func perRequest(d time.Duration, requests int64) float64 {
	if requests <= 0 {
		return 0
	}
	return us(d) / float64(requests)
}
