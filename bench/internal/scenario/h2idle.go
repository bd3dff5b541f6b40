package scenario

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/bench/internal/harness"
	"github.com/egress-go/egress/bench/internal/measure"
	"github.com/egress-go/egress/engine"
)

// The h2-idle scenario: client memory per idle pooled HTTP/2 connection
// over TLS, measured as the idle scenarios are (idleRun).
//
// An HTTP/2 client opens one connection per host and multiplexes every
// request to that host onto it, so N requests to the eight addresses of
// tls-idle would make eight connections, not N. Here every connection is
// to a host name of its own, cN.h2idle.test, that each client maps to
// 127.0.0.1-8 without DNS (egress through the engine's Resolver, net/http
// through its DialContext); the certificate covers *.h2idle.test. One
// request per host, held by the server until all are in flight, makes
// exactly N connections, whatever each client's pooling policy. That is
// also how a process comes to hold thousands of idle HTTP/2 connections:
// one to each of thousands of upstream hosts. So the figure includes each
// client's per-host bookkeeping (pool entries, TLS configurations).

func init() {
	Roles["h2-target-server"] = h2TargetServer
	Roles["h2idle-egress"] = h2IdleEgress
	Roles["h2idle-nethttp"] = h2IdleNetHTTP
}

// h2IdleClients are the clients of the h2-idle scenario; nethttp is the
// anchor of its goal.
var h2IdleClients = []string{"egress", "nethttp"}

// h2IdleDomain is the parent of the per-connection host names.
const h2IdleDomain = "h2idle.test"

// h2IdleConns is the connection count of the h2-idle scenario.
const h2IdleConns = 10000

func runH2Idle(o Options) error {
	return h2IdleScenario(o, h2IdleConns, "")
}

// h2IdleScenario measures the clients at n connections and prints the
// table. serverMode "http1" makes the server refuse HTTP/2 (for tests:
// the clients must then fail).
func h2IdleScenario(o Options, n int, serverMode string) error {
	certPEM, keyPEM, err := newCert("*." + h2IdleDomain)
	if err != nil {
		return err
	}
	tmpl := harness.Row{Scenario: "h2-idle", Conns: n}
	rows := runClients(o, tmpl, h2IdleClients, func(client string) (r harness.Row, own time.Duration, err error) {
		srv, err := harness.Start(-1, "h2-target-server", Params{CertPEM: certPEM, KeyPEM: keyPEM, AnswerAt: n, Mode: serverMode})
		if err != nil {
			return r, 0, err
		}
		defer func() { own += srv.Stop() }()
		return harness.RunChild(-1, "h2idle-"+client, Params{Addrs: strings.Split(srv.Ready, ","), Conns: n, CertPEM: certPEM,
			Profile: o.profilePath("h2-idle", client, n, false)}, client)
	})
	harness.Table{
		Title: fmt.Sprintf("h2-idle: client memory per idle pooled HTTP/2 connection over TLS 1.3, %d connections (Go net/http h2 server in another process)", n),
		Rows:  rows,
		Cols:  memoryColumns("nethttp"),
		Notes: []string{
			"egress: Transport over https, N Exchanges in flight, then idle in its pool; nethttp: http.Transport (ForceAttemptHTTP2). Both measured after 2 s idle.",
			"Each connection is to a host name of its own (cN.h2idle.test, mapped to 127.0.0.1-8 without DNS, certificate for",
			"  *.h2idle.test): an HTTP/2 client multiplexes a host onto one connection, so N connections means N hosts, and",
			"  the figure includes each client's per-host bookkeeping. Every client checks that it dialed N connections and",
			"  that all speak HTTP/2 (egress: N multiplexed in its pool's stats; nethttp: ProtoMajor 2) before it measures.",
		},
	}.Print(o.Out)
	return nil
}

// h2IdleHosts names the connections' hosts and maps them to the server's
// addresses: host i is on addrs[i%len(addrs)].
type h2IdleHosts struct{ addrs []netip.AddrPort }

func newH2IdleHosts(addrs []string) (*h2IdleHosts, error) {
	h := &h2IdleHosts{}
	for _, a := range addrs {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return nil, err
		}
		h.addrs = append(h.addrs, ap)
	}
	if len(h.addrs) == 0 {
		return nil, errors.New("no server address")
	}
	return h, nil
}

// url is the request URL of connection i.
func (h *h2IdleHosts) url(i int) string {
	return fmt.Sprintf("https://c%d.%s:%d/idle", i, h2IdleDomain, h.addrs[i%len(h.addrs)].Port())
}

// lookup maps a host name that url made to its address.
func (h *h2IdleHosts) lookup(host string) (netip.Addr, error) {
	label, ok := strings.CutSuffix(host, "."+h2IdleDomain)
	var i int
	var err error
	if ok && strings.HasPrefix(label, "c") {
		i, err = strconv.Atoi(label[1:])
	}
	if !ok || !strings.HasPrefix(label, "c") || err != nil || i < 0 {
		return netip.Addr{}, &net.DNSError{Err: "not a host of the h2-idle scenario", Name: host, IsNotFound: true}
	}
	return h.addrs[i%len(h.addrs)].Addr(), nil
}

// LookupAsync makes h2IdleHosts the engine's resolver for egress.
func (h *h2IdleHosts) LookupAsync(_ context.Context, _, host string, cb func([]netip.Addr, error)) {
	a, err := h.lookup(host)
	if err != nil {
		cb(nil, err)
		return
	}
	cb([]netip.Addr{a}, nil)
}

// h2TargetServer is net/http's server speaking HTTP/2 (and HTTP/1.1) by
// ALPN over TLS on 127.0.0.1-8, withholding its answers until p.AnswerAt
// requests wait. With p.Mode "http1" it offers HTTP/1.1 only.
func h2TargetServer(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	measure.FileLimit()
	cert, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		return err
	}
	w := &withholder{answerAt: int64(p.AnswerAt), release: make(chan struct{})}
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	protos.SetHTTP2(p.Mode != "http1")
	srv := &http.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
		Protocols: protos,
		Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			w.hold()
			rw.Header().Set("Content-Type", "text/plain")
			io.WriteString(rw, "hello, world\n")
		}),
	}
	var addrs []string
	for _, a := range measure.LoopbackAddrs(8) {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		addrs = append(addrs, ln.Addr().String())
		go srv.ServeTLS(ln, "", "")
	}
	ready(strings.Join(addrs, ","))
	waitForStop()
	return nil
}

// h2IdleEgress keeps one Exchange in flight to each of p.Conns hosts; the
// server answers when all are, and the connections go idle in the pool.
func h2IdleEgress(params []byte) error {
	var t *egress.Transport
	var hosts *h2IdleHosts
	setup := func(p Params) error {
		var err error
		if hosts, err = newH2IdleHosts(p.Addrs); err != nil {
			return err
		}
		cfg, err := clientTLS(p.CertPEM)
		if err != nil {
			return err
		}
		eng, err := engine.New(engine.Config{Resolver: hosts})
		if err != nil {
			return err
		}
		t, err = egress.NewTransport(egress.Options{Engine: eng, TLSClientConfig: cfg})
		return err
	}
	return idleRun(params, setup, func(p Params) (any, error) {
		done := make(chan error, p.Conns)
		for i := 0; i < p.Conns; i++ {
			ex := &egress.Exchange{
				URL: hosts.url(i),
				OnDone: func(ex *egress.Exchange, err error) {
					if err == nil && ex.StatusCode() != 200 {
						err = fmt.Errorf("%w: status %d", errResponse, ex.StatusCode())
					}
					done <- err
				},
			}
			if err := t.Send(ex); err != nil {
				return nil, err
			}
			pace(i)
		}
		if err := waitAll(done, p.Conns); err != nil {
			return nil, err
		}
		// A stream is given back as its exchange ends; wait until all
		// have, so that none is measured mid-release.
		for deadline := time.Now().Add(5 * time.Second); t.Stats().Pool.StreamsInUse > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		// Only an HTTP/2 connection is multiplexed; one that spoke
		// HTTP/1.1 would sit in the idle lists instead.
		if st := t.Stats().Pool; st.Dials != int64(p.Conns) || st.Multiplexed != p.Conns || st.StreamsInUse != 0 || st.Idle != 0 {
			return nil, fmt.Errorf("%w: pool dialed %d, %d multiplexed with %d streams in use, %d idle (HTTP/1.1); want %d multiplexed",
				errNotH2{"HTTP/1.1 or no protocol"}, st.Dials, st.Multiplexed, st.StreamsInUse, st.Idle, p.Conns)
		}
		settleIdle()
		return t, nil
	})
}

// h2IdleNetHTTP does the same with net/http: a goroutine per request;
// they end, and the connections stay in its HTTP/2 pool (each with its
// read loop's goroutine).
func h2IdleNetHTTP(params []byte) error {
	return idleRun(params, nil, func(p Params) (any, error) {
		hosts, err := newH2IdleHosts(p.Addrs)
		if err != nil {
			return nil, err
		}
		cfg, err := clientTLS(p.CertPEM)
		if err != nil {
			return nil, err
		}
		var dials atomic.Int64
		var d net.Dialer
		tr := &http.Transport{
			TLSClientConfig:   cfg,
			ForceAttemptHTTP2: true, // a DialContext of its own turns HTTP/2 off otherwise
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				a, err := hosts.lookup(host)
				if err != nil {
					return nil, err
				}
				dials.Add(1)
				return d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
			},
		}
		c := &http.Client{Transport: tr}
		done := make(chan error, p.Conns)
		for i := 0; i < p.Conns; i++ {
			url := hosts.url(i)
			go func() {
				resp, err := c.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.ProtoMajor != 2 {
						err = errNotH2{resp.Proto}
					} else if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("%w: status %d", errResponse, resp.StatusCode)
					}
				}
				done <- err
			}()
			pace(i)
		}
		if err := waitAll(done, p.Conns); err != nil {
			return nil, err
		}
		if n := dials.Load(); n != int64(p.Conns) {
			return nil, fmt.Errorf("dialed %d connections, want %d", n, p.Conns)
		}
		settleIdle()
		return tr, nil
	})
}

// h2IdleSettle is how long both clients leave their connections idle
// before the measurement: a pooled connection that is idle in real use has
// sat there for seconds, and a client may give memory back once a
// connection has been quiet for a moment (egress does after a second with
// no stream open). The same wait for both keeps the comparison fair.
const h2IdleSettle = 2 * time.Second

func settleIdle() { time.Sleep(h2IdleSettle) }
