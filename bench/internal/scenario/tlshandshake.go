package scenario

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/tlsconn"
)

// tls-handshake: full and resumed TLS 1.3 handshakes per second. Each
// operation is a whole short connection: TCP connect, handshake, read the
// one byte the server sends (which also delivers the session ticket), and
// the server's close. The server closes first, so TIME_WAIT stays on its
// side and the client's ephemeral ports do not run out.

func init() {
	Roles["tls-server"] = tlsServer
	Roles["hs-egress"] = hsEgress
	Roles["hs-tlsconn"] = hsTLSConn
}

// hsInFlight is how many handshakes each client keeps going at once.
const hsInFlight = 32

func runTLSHandshake(o Options) error {
	certPEM, keyPEM, err := newCert()
	if err != nil {
		return err
	}
	clients := []string{"egress", "tlsconn", "egress-resumed", "tlsconn-resumed"}
	tmpl := harness.Row{Scenario: "tls-handshake", Conns: hsInFlight, Pinned: true}
	rows := runClients(o, tmpl, clients, func(client string) (r harness.Row, own time.Duration, err error) {
		srv, err := harness.Start(serverCore, "tls-server", Params{CertPEM: certPEM, KeyPEM: keyPEM})
		if err != nil {
			return r, 0, err
		}
		defer func() { own += srv.Stop() }()
		role, mode, _ := strings.Cut(client, "-")
		return harness.RunChild(clientCore, "hs-"+role, Params{
			Addrs: strings.Split(srv.Ready, ","), Conns: hsInFlight, Mode: mode, CertPEM: certPEM,
			Duration: shortDuration(o), Warmup: warmup(o), Profile: o.profilePath("tls-handshake", client, hsInFlight, true),
		}, client)
	})
	harness.Table{
		Title: "tls-handshake: TLS 1.3 connections per second (connect, handshake, 1 byte, close), 32 at once; Go TLS server on core 0, client on core 1",
		Rows:  rows,
		Cols: []harness.Column{
			{Name: "handshakes/s", Get: func(r harness.Row) float64 { return r.RPS }, Vs: []string{"tlsconn"}},
			{Name: "cpu us/hs", Get: func(r harness.Row) float64 { return r.CPUUsPerReq }, Vs: []string{"tlsconn"}},
			{Name: "p50 us", Get: func(r harness.Row) float64 { return r.P50Us }},
			{Name: "p99 us", Get: func(r harness.Row) float64 { return r.P99Us }},
			{Name: "resumed", Get: func(r harness.Row) float64 { return r.Resumed }},
		},
		Notes: append([]string{
			"egress: the engine with package tlsconn's layer (what the Transport uses for https); tlsconn: crypto/tls over net.Conn,",
			"  a goroutine per connection. Full: no session cache; resumed: a session cache, PSK with (EC)DHE as TLS 1.3 does.",
			"Certificates verified (ECDSA P-256); Go's default key exchange. resumed: share of handshakes that resumed.",
		}, errorNotes(rows)...),
	}.Print(o.Out)
	return nil
}

// tlsServer accepts TLS on 127.0.0.1-8: handshake, one byte, close.
func tlsServer(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		return err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	var addrs []string
	for i := 1; i <= 8; i++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(net.IPv4(127, 0, 0, byte(i)).String(), "0"))
		if err != nil {
			return err
		}
		addrs = append(addrs, ln.Addr().String())
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					tc := tls.Server(c, cfg)
					tc.SetDeadline(time.Now().Add(10 * time.Second))
					if tc.Handshake() == nil {
						tc.Write([]byte{'x'})
					}
					tc.Close()
				}()
			}
		}()
	}
	ready(strings.Join(addrs, ","))
	waitForStop()
	return nil
}

// hsCounter counts resumed handshakes next to the meter.
type hsCounter struct {
	meter
	resumed atomic.Int64
}

func (h *hsCounter) row(p Params) harness.Row {
	r0 := h.resumed.Load()
	n0 := h.ops.Load()
	r := h.window(p)
	if n := h.ops.Load() - n0; n > 0 {
		r.Resumed = float64(h.resumed.Load()-r0) / float64(n)
	}
	return r
}

// hsEgress runs hsInFlight chains of connections on the engine through
// tlsconn: each connection's close starts the next.
func hsEgress(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	e, err := engine.New(engine.Config{})
	if err != nil {
		return err
	}
	cl, err := tlsconn.NewClient(&tlsconn.Config{
		RootCAsPEM: p.CertPEM, DisableResumption: p.Mode != "resumed",
		TLS: &tls.Config{MinVersion: tls.VersionTLS13},
	})
	if err != nil {
		return err
	}
	var h hsCounter
	for i := 0; i < p.Conns; i++ {
		var start time.Time
		var got bool
		next := i // the chain's next address, taking turns over p.Addrs
		var dial func()
		handler := &engine.HandlerFuncs{
			Open: func(c *engine.Conn) {
				if st, ok := tlsconn.State(c); ok && st.DidResume {
					h.resumed.Add(1)
				}
			},
			Data: func(c *engine.Conn, b []byte) { got = got || len(b) > 0 },
			Close: func(c *engine.Conn, err error) {
				if got {
					err = nil // the server closes after its byte
				} else if err == nil {
					err = errors.New("closed before the server's byte")
				}
				h.done(start, err)
				if !h.stop.Load() {
					dial()
				}
			},
		}
		dial = func() {
			start, got = time.Now(), false
			next++
			if _, err := cl.Dial(context.Background(), e, "tcp", p.Addrs[next%len(p.Addrs)], handler, nil); err != nil {
				h.errs.Add(1)
			}
		}
		dial()
	}
	ready("started")
	return emit(h.row(p))
}

// hsTLSConn is crypto/tls over net.Conn, a goroutine per connection in
// flight.
func hsTLSConn(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	base, err := clientTLS(p.CertPEM)
	if err != nil {
		return err
	}
	if p.Mode == "resumed" {
		base.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	} else {
		base.SessionTicketsDisabled = true
	}
	cfgs := make([]*tls.Config, len(p.Addrs)) // one per host, sharing the cache
	for i, a := range p.Addrs {
		host, _, _ := net.SplitHostPort(a)
		cfgs[i] = base.Clone()
		cfgs[i].ServerName = host
	}
	var h hsCounter
	err = h.loop(p, func(i int) (func() error, error) {
		k := i
		return func() error {
			k++
			c, err := net.Dial("tcp", p.Addrs[k%len(p.Addrs)])
			if err != nil {
				return err
			}
			defer c.Close()
			tc := tls.Client(c, cfgs[k%len(p.Addrs)])
			if err := tc.Handshake(); err != nil {
				return err
			}
			if tc.ConnectionState().DidResume {
				h.resumed.Add(1)
			}
			b, err := io.ReadAll(tc)
			if err == nil && len(b) != 1 {
				err = errors.New("server's byte missing")
			}
			return err
		}, nil
	})
	if err != nil {
		return err
	}
	ready("started")
	return emit(h.row(p))
}
