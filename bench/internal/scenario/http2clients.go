package scenario

import (
	"fmt"
	"io"
	"net/http"

	"golang.org/x/net/http2"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/pool"
)

// The HTTP/2 clients of the http2 scenario. Each keeps p.Streams requests
// in flight on each of p.Conns connections, closed loop, over TLS that
// verifies the server's certificate (p.CertPEM is the only root), and
// checks every response: status 200 and p.Size body bytes. Every
// connection is a client (Transport) of its own, so that the shape is
// exactly p.Conns x p.Streams whatever each client's pooling policy; and
// each one's first request, before the measurement, must come back over
// HTTP/2 or the client fails.

func init() {
	Roles["h2-egress"] = h2Egress
	Roles["h2-egress-http"] = h2EgressHTTP
	Roles["h2-xnet"] = h2XNet
	Roles["h2-nethttp"] = h2NetHTTP
}

// errNotH2 is a client that did not negotiate HTTP/2.
type errNotH2 struct{ proto string }

func (e errNotH2) Error() string { return "spoke " + e.proto + ", not HTTP/2" }

// checkH2 makes one request through rt and fails unless it succeeded
// over HTTP/2 with the expected body. It also opens rt's connection.
func checkH2(rt http.RoundTripper, p Params) error {
	resp, err := (&http.Client{Transport: rt}).Get(p.URL)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.ProtoMajor != 2 {
		return errNotH2{resp.Proto}
	}
	if resp.StatusCode != 200 || n != int64(p.Size) {
		return fmt.Errorf("%w: %d, %d bytes", errResponse, resp.StatusCode, n)
	}
	return nil
}

// h2EgressTransports makes p.Conns Transports on one shared engine, each
// allowed one connection, with its requests waiting for a stream rather
// than opening another, and checks that each speaks HTTP/2.
func h2EgressTransports(p Params) ([]*egress.Transport, error) {
	cfg, err := clientTLS(p.CertPEM)
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(engine.Config{})
	if err != nil {
		return nil, err
	}
	ts := make([]*egress.Transport, p.Conns)
	for i := range ts {
		pc := pool.DefaultConfig()
		pc.MaxTotalPerKey = 1
		t, err := egress.NewTransport(egress.Options{
			Engine: eng, Pool: &pc, TLSClientConfig: cfg.Clone(),
			HTTP2: egress.HTTP2Options{WaitForStreams: true},
		})
		if err != nil {
			return nil, err
		}
		if err := checkH2(t, p); err != nil {
			return nil, err
		}
		ts[i] = t
	}
	return ts, nil
}

// h2Egress drives the non-blocking API: p.Streams Exchanges per
// connection, each sent again from its own OnDone.
func h2Egress(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	ts, err := h2EgressTransports(p)
	if err != nil {
		return err
	}
	var m meter
	for _, t := range ts {
		for s := 0; s < p.Streams; s++ {
			if err := m.loopExchange(t, p); err != nil {
				return err
			}
		}
	}
	ready("started")
	return emit(m.window(p))
}

// h2EgressHTTP goes through http.Client over the Transports: one
// goroutine per stream in flight.
func h2EgressHTTP(params []byte) error { return h2RoundTripRole("egress-http", params) }

// h2XNet is golang.org/x/net/http2's Transport, one per connection.
func h2XNet(params []byte) error { return h2RoundTripRole("xnet", params) }

// h2NetHTTP is net/http's Transport (its bundled HTTP/2), one per
// connection, allowed one connection each.
func h2NetHTTP(params []byte) error { return h2RoundTripRole("nethttp", params) }

func h2RoundTripRole(client string, params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	rts, err := h2RoundTrippers(client, p)
	if err != nil {
		return err
	}
	return h2RoundTripLoop(p, rts)
}

// h2RoundTrippers makes a client's p.Conns RoundTrippers, one per
// connection, that trust p.CertPEM only.
func h2RoundTrippers(client string, p Params) ([]http.RoundTripper, error) {
	if client == "egress-http" {
		ts, err := h2EgressTransports(p)
		if err != nil {
			return nil, err
		}
		rts := make([]http.RoundTripper, len(ts))
		for i, t := range ts {
			rts[i] = t
		}
		return rts, nil
	}
	cfg, err := clientTLS(p.CertPEM)
	if err != nil {
		return nil, err
	}
	rts := make([]http.RoundTripper, p.Conns)
	for i := range rts {
		switch client {
		case "xnet":
			rts[i] = &http2.Transport{TLSClientConfig: cfg.Clone()}
		case "nethttp":
			rts[i] = &http.Transport{
				TLSClientConfig: cfg.Clone(), ForceAttemptHTTP2: true,
				MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1,
			}
		default:
			return nil, fmt.Errorf("no HTTP/2 client %q", client)
		}
	}
	return rts, nil
}

// h2RoundTripLoop checks that every RoundTripper speaks HTTP/2, then runs
// p.Streams goroutines on each, doing what roundTripLoop's do.
func h2RoundTripLoop(p Params, rts []http.RoundTripper) error {
	clients := make([]*http.Client, len(rts))
	for i, rt := range rts {
		if err := checkH2(rt, p); err != nil {
			return err
		}
		clients[i] = &http.Client{Transport: rt}
	}
	var m meter
	all := p
	all.Conns = len(rts) * p.Streams
	err := m.loop(all, func(i int) (func() error, error) {
		return getOp(clients[i/p.Streams], p)
	})
	if err != nil {
		return err
	}
	ready("started")
	return emit(m.window(p))
}
