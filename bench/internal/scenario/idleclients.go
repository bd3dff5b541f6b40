package scenario

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/pool"
	"github.com/egress-go/egress/tlsconn"
)

// The idle clients. Each opens p.Conns connections spread over p.Addrs
// (127.0.0.1-8); with p.CertPEM set they speak TLS and trust it.

func init() {
	Roles["idle-egress"] = idleEgress
	Roles["idle-nethttp"] = idleNetHTTP
	Roles["idle-goroutine"] = idleGoroutine
	Roles["idle-netconn"] = idleNetConn
	Roles["idle-rawfd"] = idleRawFD
	Roles["idle-engine"] = idleEngine
	Roles["idle-tlsconn"] = idleTLSConn
	Roles["idle-engine-tls"] = idleEngineTLS
}

func scheme(p Params) string {
	if len(p.CertPEM) > 0 {
		return "https"
	}
	return "http"
}

// idleEgress keeps p.Conns requests in flight through Exchanges; the
// server answers when all are, and the connections go idle in the pool.
// The Exchanges are dropped before the second reading: only the idle
// connections are measured.
func idleEgress(params []byte) error {
	var t *egress.Transport
	setup := func(p Params) error {
		pc := pool.DefaultConfig()
		pc.MaxIdlePerKey, pc.MaxTotalPerKey = p.Conns, p.Conns
		opts := egress.Options{Pool: &pc}
		if len(p.CertPEM) > 0 {
			cfg, err := clientTLS(p.CertPEM)
			if err != nil {
				return err
			}
			opts.TLSClientConfig = cfg
		}
		var err error
		t, err = egress.NewTransport(opts)
		return err
	}
	return idleRun(params, setup, func(p Params) (any, error) {
		done := make(chan error, p.Conns)
		for i := 0; i < p.Conns; i++ {
			ex := &egress.Exchange{
				URL:    fmt.Sprintf("%s://%s/idle", scheme(p), p.Addrs[i%len(p.Addrs)]),
				OnDone: func(ex *egress.Exchange, err error) { done <- err },
			}
			if err := t.Send(ex); err != nil {
				return nil, err
			}
			pace(i)
		}
		if err := waitAll(done, p.Conns); err != nil {
			return nil, err
		}
		// A connection goes back to the pool as its exchange ends; wait
		// until all have, so that none is measured mid-release.
		for deadline := time.Now().Add(5 * time.Second); t.Stats().Pool.Idle < p.Conns && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if st := t.Stats().Pool; st.Idle != p.Conns || st.Dials != int64(p.Conns) {
			return nil, fmt.Errorf("pool holds %d idle of %d dialed, want %d", st.Idle, st.Dials, p.Conns)
		}
		return t, nil
	})
}

// idleNetHTTP does the same with net/http: p.Conns goroutines each make
// one request; they end, and the connections stay in the Transport's
// idle pool (with their read and write goroutines).
func idleNetHTTP(params []byte) error {
	return idleRun(params, nil, func(p Params) (any, error) {
		tr := &http.Transport{MaxIdleConnsPerHost: p.Conns, MaxConnsPerHost: p.Conns}
		if len(p.CertPEM) > 0 {
			cfg, err := clientTLS(p.CertPEM)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = cfg
		}
		c := &http.Client{Transport: tr}
		done := make(chan error, p.Conns)
		for i := 0; i < p.Conns; i++ {
			url := fmt.Sprintf("%s://%s/idle", scheme(p), p.Addrs[i%len(p.Addrs)])
			go func() {
				resp, err := c.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				done <- err
			}()
			pace(i)
		}
		if err := waitAll(done, p.Conns); err != nil {
			return nil, err
		}
		return tr, nil
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

// parkReaders starts a goroutine per connection, blocked in Read with a
// 4 KiB buffer: the goroutine-per-connection model at rest.
func parkReaders(conns []net.Conn) {
	for _, c := range conns {
		go func() {
			buf := make([]byte, 4096)
			c.Read(buf)
		}()
	}
}

func idleGoroutine(params []byte) error {
	return idleRun(params, nil, func(p Params) (any, error) {
		conns, err := dialAll(p)
		if err != nil {
			return nil, err
		}
		parkReaders(conns)
		return conns, nil
	})
}

func idleNetConn(params []byte) error {
	return idleRun(params, nil, func(p Params) (any, error) { return dialAll(p) })
}

// idleTLSConn is crypto/tls over net.Conn, goroutine per connection: the
// handshake, then a goroutine blocked in tls.Conn.Read.
func idleTLSConn(params []byte) error {
	return idleRun(params, nil, func(p Params) (any, error) {
		cfg, err := clientTLS(p.CertPEM)
		if err != nil {
			return nil, err
		}
		raw, err := dialAll(p)
		if err != nil {
			return nil, err
		}
		conns := make([]net.Conn, len(raw))
		for i, c := range raw {
			host, _, _ := net.SplitHostPort(p.Addrs[i%len(p.Addrs)])
			cc := cfg.Clone()
			cc.ServerName = host
			tc := tls.Client(c, cc)
			if err := tc.Handshake(); err != nil {
				return nil, fmt.Errorf("handshake %d: %w", i, err)
			}
			conns[i] = tc
		}
		parkReaders(conns)
		return conns, nil
	})
}

func idleRawFD(params []byte) error {
	return idleRun(params, nil, func(p Params) (any, error) {
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

// idleEngine holds TCP connections on egress's engine, with no protocol
// on top: the engine's own cost per idle connection.
func idleEngine(params []byte) error {
	var e *engine.Engine
	setup := func(Params) (err error) { e, err = engine.New(engine.Config{}); return err }
	return idleRun(params, setup, func(p Params) (any, error) {
		return e, engineDialAll(e, p, nil)
	})
}

// idleEngineTLS is the engine with package tlsconn's layer: the TLS cost
// per idle connection that the Transport will carry over https.
func idleEngineTLS(params []byte) error {
	var e *engine.Engine
	var cl *tlsconn.Client
	setup := func(p Params) (err error) {
		if e, err = engine.New(engine.Config{}); err != nil {
			return err
		}
		cl, err = tlsconn.NewClient(&tlsconn.Config{RootCAsPEM: p.CertPEM, TLS: &tls.Config{MinVersion: tls.VersionTLS13}})
		return err
	}
	return idleRun(params, setup, func(p Params) (any, error) {
		return e, engineDialAll(e, p, cl)
	})
}

// engineDialAll opens p.Conns connections on e (through cl's TLS layer if
// cl is set) and returns once all are open.
func engineDialAll(e *engine.Engine, p Params, cl *tlsconn.Client) error {
	done := make(chan error, p.Conns)
	h := &engine.HandlerFuncs{
		Open: func(*engine.Conn) { done <- nil },
		Close: func(c *engine.Conn, err error) {
			if !c.Ready() {
				done <- err
			}
		},
	}
	for i := 0; i < p.Conns; i++ {
		addr := p.Addrs[i%len(p.Addrs)]
		var err error
		if cl != nil {
			_, err = cl.Dial(context.Background(), e, "tcp", addr, h, nil)
		} else {
			_, err = e.Dial(context.Background(), "tcp", addr, h, nil)
		}
		if err != nil {
			return err
		}
		pace(i)
	}
	return waitAll(done, p.Conns)
}
