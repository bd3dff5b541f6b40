package scenario

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/bench/internal/measure"
)

// The idle scenarios: client memory per idle keep-alive connection. Each
// client runs in a process of its own and measures itself: collect
// garbage twice, settle, read RSS and runtime.MemStats, open the
// connections, idle them, and measure again. The difference divided by
// the connections is the figure; fixed costs (the engine's loops, a
// transport) are set up before the first reading so that they are not
// charged to the connections.

// idleCounts are the connection counts of the idle scenario: 10,000 and
// the open-file limit less a margin for the process's own files.
func idleCounts(o Options) []int {
	if o.Quick {
		return []int{10000}
	}
	return []int{10000, measure.FileLimit() - 500}
}

// Clients of the idle scenarios. Those that send a request make the
// server withhold its answers until all are in flight.
var (
	idleClients    = []string{"egress", "nethttp", "goroutine", "netconn", "rawfd", "engine"}
	tlsIdleClients = []string{"egress", "nethttp", "tlsconn", "engine-tls"}
	sendsRequests  = map[string]bool{"egress": true, "nethttp": true}
)

func runIdle(o Options) error {
	for _, n := range idleCounts(o) {
		rows := idleTable(o, "idle", idleClients, n, nil, nil)
		harness.Table{
			Title: fmt.Sprintf("idle: client memory per idle keep-alive connection, %d connections over 127.0.0.1-8 (Go target server in another process)", n),
			Rows:  rows,
			Cols:  memoryColumns("nethttp"),
			Notes: []string{
				"egress: Transport, N Exchanges in flight, then idle in its pool; nethttp: http.Transport, MaxIdleConnsPerHost N;",
				"  goroutine: net.Conn + goroutine blocked in Read with a 4 KiB buffer; netconn: net.Conn alone;",
				"  rawfd: connected socket descriptors (the floor); engine: egress's engine alone, TCP connections, no HTTP.",
				"RSS per connection counts user-space memory only; socket buffers are kernel memory.",
			},
		}.Print(o.Out)
	}
	return nil
}

func runTLSIdle(o Options) error {
	certPEM, keyPEM, err := newCert()
	if err != nil {
		return err
	}
	const n = 10000
	rows := idleTable(o, "tls-idle", tlsIdleClients, n, certPEM, keyPEM)
	harness.Table{
		Title: fmt.Sprintf("tls-idle: client memory per idle TLS 1.3 keep-alive connection, %d connections over 127.0.0.1-8 (Go TLS server in another process)", n),
		Rows:  rows,
		Cols:  memoryColumns("nethttp"),
		Notes: []string{
			"egress: Transport over https (package tlsconn's layer); nethttp: http.Transport over TLS; tlsconn: net.Conn + tls.Conn + goroutine",
			"  blocked in Read with a 4 KiB buffer; engine-tls: egress's engine with the tlsconn layer, no HTTP.",
			"Certificates verified (ECDSA P-256, self-signed root given to the client); Go's default key exchange.",
		},
	}.Print(o.Out)
	return nil
}

func memoryColumns(anchor string) []harness.Column {
	return []harness.Column{
		{Name: "RSS B/conn", Get: func(r harness.Row) float64 { return r.BytesRSSPerConn }, Vs: []string{anchor}},
		{Name: "heap B/conn", Get: func(r harness.Row) float64 { return r.BytesHeapPerConn }},
		{Name: "stack B/conn", Get: func(r harness.Row) float64 { return r.BytesStackPerConn }},
	}
}

// idleTable runs the clients of one idle table, each against a target
// server of its own.
func idleTable(o Options, scenario string, clients []string, n int, certPEM, keyPEM []byte) []harness.Row {
	tmpl := harness.Row{Scenario: scenario, Conns: n}
	return runClients(o, tmpl, clients, func(client string) (r harness.Row, own time.Duration, err error) {
		sp := Params{CertPEM: certPEM, KeyPEM: keyPEM}
		if sendsRequests[client] {
			sp.AnswerAt = n
		}
		srv, err := harness.Start(-1, "target-server", sp)
		if err != nil {
			return r, 0, err
		}
		defer func() { own += srv.Stop() }()
		return harness.RunChild(-1, "idle-"+client, Params{Addrs: strings.Split(srv.Ready, ","), Conns: n, CertPEM: certPEM,
			Profile: o.profilePath(scenario, client, n, false)}, client)
	})
}

// idleRun measures the memory that hold's connections add. hold returns
// once they are all open and idle, with what keeps them alive.
func idleRun(params []byte, setup func(p Params) error, hold func(p Params) (any, error)) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	measure.FileLimit()
	if p.Profile != "" {
		// A sample every 4 KiB allocated: over thousands of connections
		// that is exact enough, and cheap enough not to slow the
		// handshakes of the TLS clients into their timeouts.
		runtime.MemProfileRate = 4096
	}
	if setup != nil {
		if err := setup(p); err != nil {
			return err
		}
	}
	ready("started")
	before := measure.Settle()
	kept, err := hold(p)
	if err != nil {
		return err
	}
	after := measure.Settle()
	if p.Profile != "" {
		// A heap profile of the idle state shows who holds the bytes.
		if f, err := os.Create(p.Profile); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	runtime.KeepAlive(kept) // a collected net.Conn would close its socket
	var r harness.Row
	r.BytesRSSPerConn, r.BytesHeapPerConn, r.BytesStackPerConn = measure.PerConn(before, after, p.Conns)
	return emit(r)
}

// pace spaces out the start of many connections so that the server's
// accept queues keep up (an overflow costs a one-second SYN retry).
func pace(i int) {
	if i%1000 == 999 {
		time.Sleep(10 * time.Millisecond)
	}
}

// waitAll waits for n completions counted on done, up to a limit that no
// healthy run comes near.
func waitAll(done <-chan error, n int) error {
	deadline := time.After(2 * time.Minute)
	var first error
	failed := 0
	for i := 0; i < n; i++ {
		select {
		case err := <-done:
			if err != nil {
				failed++
				if first == nil {
					first = err
				}
			}
		case <-deadline:
			return fmt.Errorf("%d of %d connections not ready after 2 minutes", n-i, n)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d failed, first: %w", failed, n, first)
	}
	return nil
}
