package scenario

import (
	"context"
	"io"
	"net"
	"strings"
	"time"

	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/engine"
)

func init() {
	Roles["echo-server"] = echoServer
	Roles["echo-egress"] = echoEgress
	Roles["echo-goroutine"] = echoGoroutine
}

func runEcho(o Options) error {
	const conns, size = 1000, 64
	d := shortDuration(o)
	tmpl := harness.Row{Scenario: "echo", Conns: conns, Pinned: true}
	rows := runClients(o, tmpl, []string{"egress", "goroutine"}, func(client string) (r harness.Row, own time.Duration, err error) {
		srv, err := harness.Start(serverCore, "echo-server", nil)
		if err != nil {
			return r, 0, err
		}
		defer func() { own += srv.Stop() }()
		return harness.RunChild(clientCore, "echo-"+client, Params{Addrs: strings.Split(srv.Ready, ","), Conns: conns, Size: size,
			Duration: d, Warmup: warmup(o), Profile: o.profilePath("echo", client, conns, true)}, client)
	})
	harness.Table{
		Title: "echo: engine alone, 64-byte round trips on 1,000 connections; Go echo server on core 0, client on core 1",
		Rows:  rows,
		Cols: []harness.Column{
			{Name: "round trips/s", Get: func(r harness.Row) float64 { return r.RPS }, Vs: []string{"goroutine"}},
			{Name: "cpu us/rt", Get: func(r harness.Row) float64 { return r.CPUUsPerReq }, Vs: []string{"goroutine"}},
			{Name: "p50 us", Get: func(r harness.Row) float64 { return r.P50Us }},
			{Name: "p99 us", Get: func(r harness.Row) float64 { return r.P99Us }},
		},
		Notes: append([]string{"egress: the engine's callbacks; goroutine: net.Conn with a goroutine per connection. CPU over the window."}, errorNotes(rows)...),
	}.Print(o.Out)
	return nil
}

// shortDuration is the window of the scenarios that converge fast (echo,
// TLS handshakes): half the HTTP window, to keep a full run in budget.
func shortDuration(o Options) time.Duration {
	if o.Quick {
		return o.Duration
	}
	return o.Duration / 2
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

func echoEgress(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	e, err := engine.New(engine.Config{})
	if err != nil {
		return err
	}
	var m meter
	msg := make([]byte, p.Size)
	for i := 0; i < p.Conns; i++ {
		got := 0
		var start time.Time
		h := &engine.HandlerFuncs{
			Open: func(c *engine.Conn) { start = time.Now(); c.Write(msg) },
			Data: func(c *engine.Conn, b []byte) {
				got += len(b)
				if got >= len(msg) {
					got = 0
					m.done(start, nil)
					start = time.Now()
					c.Write(msg)
				}
			},
			Close: func(c *engine.Conn, err error) {
				if !m.stop.Load() {
					m.errs.Add(1)
				}
			},
		}
		if _, err := e.Dial(context.Background(), "tcp", p.Addrs[i%len(p.Addrs)], h, nil); err != nil {
			return err
		}
	}
	ready("started")
	return emit(m.window(p))
}

func echoGoroutine(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	var m meter
	err = m.loop(p, func(i int) (func() error, error) {
		c, err := net.Dial("tcp", p.Addrs[i%len(p.Addrs)])
		if err != nil {
			return nil, err
		}
		msg, buf := make([]byte, p.Size), make([]byte, p.Size)
		return func() error {
			if _, err := c.Write(msg); err != nil {
				return err
			}
			_, err := io.ReadFull(c, buf)
			return err
		}, nil
	})
	if err != nil {
		return err
	}
	ready("started")
	return emit(m.window(p))
}
