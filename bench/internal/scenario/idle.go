package scenario

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/bench/internal/measure"
	"github.com/egress-go/egress/engine"
)

func init() {
	All = append(All, Scenario{Name: "idle", Doc: "client memory per idle TCP connection (engine level)", Run: runIdle})
	Roles["hold-server"] = holdServer
	Roles["idle-egress"] = idleEgress
	Roles["idle-goroutine"] = idleGoroutine
	Roles["idle-netconn"] = idleNetConn
	Roles["idle-rawfd"] = idleRawFD
}

// idleCounts are the connection counts the idle scenario measures: 10,000
// and the open-file limit less a margin for the process's own files.
func idleCounts(o Options) []int {
	if o.Quick {
		return []int{10000}
	}
	return []int{10000, measure.FileLimit() - 500}
}

func runIdle(o Options) error {
	clients := []string{"egress", "goroutine", "netconn", "rawfd"}
	for _, n := range idleCounts(o) {
		rows, err := runClients(o, clients, func(client string) (r harness.Row, own time.Duration, err error) {
			srv, err := harness.Start(-1, "hold-server", nil)
			if err != nil {
				return r, 0, err
			}
			defer func() { own += srv.Stop() }()
			cli, err := harness.Start(-1, "idle-"+client, Params{Addrs: strings.Split(srv.Ready, ","), Conns: n})
			if err != nil {
				return r, 0, err
			}
			r, err = cli.Result()
			r.Scenario, r.Client, r.Conns = "idle", client, n
			return r, cli.CPU(), err
		})
		if err != nil {
			return err
		}
		harness.PrintTable(o.Out, fmt.Sprintf("idle: client memory per idle connection, %d connections over 127.0.0.1-8 (server in another process)", n),
			"goroutine", rows, []harness.Column{
				{Name: "RSS B/conn", Get: func(r harness.Row) float64 { return r.BytesRSSPerConn }, Ratio: true},
				{Name: "heap B/conn", Get: func(r harness.Row) float64 { return r.BytesHeapPerConn }},
				{Name: "stack B/conn", Get: func(r harness.Row) float64 { return r.BytesStackPerConn }},
			})
	}
	return nil
}

// holdServer accepts on 127.0.0.1-8 and holds every connection, on the
// engine (one loop per core, SO_REUSEPORT) so that it stays small.
func holdServer([]byte) error {
	measure.FileLimit()
	e, err := engine.New(engine.Config{})
	if err != nil {
		return err
	}
	defer e.Close()
	var addrs []string
	for _, a := range measure.LoopbackAddrs(8) {
		ln, err := e.Listen("tcp", a, func(*engine.Conn) engine.Handler { return engine.BaseHandler{} }, &engine.ListenConfig{ReusePort: true, Backlog: 4096})
		if err != nil {
			return err
		}
		addrs = append(addrs, ln.Addr().String())
	}
	ready(strings.Join(addrs, ","))
	waitForStop()
	return nil
}

// idleRun measures memory before and after hold establishes p.Conns.
func idleRun(params []byte, hold func(p Params) (any, error)) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	measure.FileLimit()
	ready("started")
	before := measure.Settle()
	kept, err := hold(p)
	if err != nil {
		return err
	}
	after := measure.Settle()
	var r harness.Row
	r.BytesRSSPerConn, r.BytesHeapPerConn, r.BytesStackPerConn = measure.PerConn(before, after, p.Conns)
	_ = kept // held until measured
	return emit(r)
}

// idleEgress holds connections on the engine. The engine is created
// before the baseline so that its fixed cost (loops, read buffers) is not
// charged to the connections.
func idleEgress(params []byte) error {
	e, err := engine.New(engine.Config{})
	if err != nil {
		return err
	}
	defer e.Close()
	return idleRun(params, func(p Params) (any, error) {
		var open, failed atomic.Int64
		done := make(chan struct{})
		h := &engine.HandlerFuncs{
			Open: func(*engine.Conn) {
				if open.Add(1)+failed.Load() == int64(p.Conns) {
					close(done)
				}
			},
			Close: func(c *engine.Conn, err error) {
				if !c.Ready() && failed.Add(1)+open.Load() == int64(p.Conns) {
					close(done)
				}
			},
		}
		for i := 0; i < p.Conns; i++ {
			if _, err := e.Dial(context.Background(), "tcp", p.Addrs[i%len(p.Addrs)], h, nil); err != nil {
				return nil, err
			}
			if i%1000 == 999 {
				time.Sleep(10 * time.Millisecond) // let the server's accept queue drain
			}
		}
		<-done
		if f := failed.Load(); f > 0 {
			return nil, fmt.Errorf("%d of %d dials failed", f, p.Conns)
		}
		return nil, nil
	})
}

func dialAll(p Params) ([]net.Conn, error) {
	conns := make([]net.Conn, p.Conns)
	for i := range conns {
		c, err := net.Dial("tcp", p.Addrs[i%len(p.Addrs)])
		if err != nil {
			return nil, fmt.Errorf("dial %d: %w", i, err)
		}
		conns[i] = c
	}
	return conns, nil
}

func idleGoroutine(params []byte) error {
	var wg sync.WaitGroup
	return idleRun(params, func(p Params) (any, error) {
		conns, err := dialAll(p)
		if err != nil {
			return nil, err
		}
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				c.Read(buf)
			}()
		}
		return conns, nil
	})
}

func idleNetConn(params []byte) error {
	return idleRun(params, func(p Params) (any, error) { return dialAll(p) })
}

func idleRawFD(params []byte) error {
	return idleRun(params, func(p Params) (any, error) {
		fds := make([]int, p.Conns)
		for i := range fds {
			ap, err := netip.ParseAddrPort(p.Addrs[i%len(p.Addrs)])
			if err != nil {
				return nil, err
			}
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				return nil, fmt.Errorf("socket %d: %w", i, err)
			}
			if err := syscall.Connect(fd, &syscall.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}); err != nil {
				return nil, fmt.Errorf("connect %d: %w", i, err)
			}
			fds[i] = fd
		}
		return fds, nil
	})
}
