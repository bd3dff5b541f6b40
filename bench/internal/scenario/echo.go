package scenario

import (
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/bench/internal/measure"
	"github.com/egress-go/egress/engine"
)

func init() {
	All = append(All, Scenario{Name: "echo", Doc: "engine alone: 1,000 connections doing 64-byte echo round trips", Run: runEcho})
	Roles["echo-server"] = echoServer
	Roles["echo-egress"] = echoEgress
	Roles["echo-goroutine"] = echoGoroutine
}

func runEcho(o Options) error {
	const conns, size = 1000, 64
	rows, err := runClients(o, []string{"egress", "goroutine"}, func(client string) (r harness.Row, own time.Duration, err error) {
		srv, err := harness.Start(0, "echo-server", nil)
		if err != nil {
			return r, 0, err
		}
		defer func() { own += srv.Stop() }()
		cli, err := harness.Start(1, "echo-"+client, Params{Addrs: strings.Split(srv.Ready, ","), Conns: conns, Size: size,
			Duration: o.Duration, Warmup: o.Duration / 5})
		if err != nil {
			return r, 0, err
		}
		r, err = cli.Result()
		r.Scenario, r.Client, r.Conns, r.Pinned = "echo", client, conns, true
		return r, cli.CPU(), err
	})
	harness.PrintTable(o.Out, "echo: 64-byte round trips, 1,000 connections, Go echo server on core 0, client on core 1",
		"goroutine", rows, []harness.Column{
			{Name: "round trips/s", Get: func(r harness.Row) float64 { return r.RPS }, Ratio: true},
			{Name: "cpu us/rt", Get: func(r harness.Row) float64 { return r.CPUUsPerReq }, Ratio: true},
		})
	return err
}

// echoServer is a plain Go echo server, goroutine per connection.
func echoServer([]byte) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						c.Close()
						return
					}
					c.Write(buf[:n])
				}
			}()
		}
	}()
	ready(ln.Addr().String())
	waitForStop()
	return nil
}

// window counts operations and measures CPU over the measurement window.
func window(p Params, ops *atomic.Int64) harness.Row {
	time.Sleep(p.Warmup)
	n0, c0, t0 := ops.Load(), measure.CPU(), time.Now()
	time.Sleep(p.Duration)
	n1, c1, el := ops.Load(), measure.CPU(), time.Since(t0)
	n := float64(n1 - n0)
	r := harness.Row{RPS: n / el.Seconds()}
	if n > 0 {
		r.CPUUsPerReq = float64(c1-c0) / float64(time.Microsecond) / n
	}
	return r
}

func echoEgress(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	e, err := engine.New(engine.Config{})
	if err != nil {
		return err
	}
	defer e.Close()
	var ops, errs atomic.Int64
	msg := make([]byte, p.Size)
	for i := 0; i < p.Conns; i++ {
		got := 0
		h := &engine.HandlerFuncs{
			Open: func(c *engine.Conn) { c.Write(msg) },
			Data: func(c *engine.Conn, b []byte) {
				got += len(b)
				if got >= len(msg) {
					got = 0
					ops.Add(1)
					c.Write(msg)
				}
			},
			Close: func(c *engine.Conn, err error) { errs.Add(1) },
		}
		if _, err := e.Dial(context.Background(), "tcp", p.Addrs[i%len(p.Addrs)], h, nil); err != nil {
			return err
		}
	}
	ready("started")
	r := window(p, &ops)
	r.Errors = errs.Load()
	return emit(r)
}

func echoGoroutine(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	var ops, errs atomic.Int64
	stop := make(chan struct{})
	for i := 0; i < p.Conns; i++ {
		c, err := net.Dial("tcp", p.Addrs[i%len(p.Addrs)])
		if err != nil {
			return err
		}
		go func() {
			msg, buf := make([]byte, p.Size), make([]byte, p.Size)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Write(msg); err != nil {
					errs.Add(1)
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					errs.Add(1)
					return
				}
				ops.Add(1)
			}
		}()
	}
	ready("started")
	r := window(p, &ops)
	close(stop)
	r.Errors = errs.Load()
	return emit(r)
}
