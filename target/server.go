package target

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/tlsconn"
)

// Config sets up a Server. The zero value serves plain HTTP on a free
// loopback port with one loop per core.
type Config struct {
	// Addr is the host:port to listen on; default "127.0.0.1:0", a free
	// port on loopback.
	Addr string
	// TLS serves HTTPS with a self-signed certificate generated at start
	// (see ClientTLSConfig and CertificatePEM).
	TLS bool
	// Loops is the number of event loops, each with its own listening
	// socket; default runtime.GOMAXPROCS(0).
	Loops int
	// Backend selects the engine backend; default engine.BackendAuto.
	Backend engine.Backend
	// IdleTimeout closes a connection on which nothing was read or
	// written for this long; default 2 minutes; negative means never.
	IdleTimeout time.Duration
	// HTTP2 serves HTTP/2 as well: H2TLS (implies TLS) offers h2 by
	// ALPN next to http/1.1, H2C accepts h2c by prior knowledge next to
	// HTTP/1.1. Either runs on net/http's server rather than the engine,
	// so Loops and Backend do not apply (see the package doc).
	HTTP2 HTTP2Mode
	// ReusePort lets the server share Addr with other processes that
	// listen there with SO_REUSEPORT too (the kernel then spreads new
	// connections among them). Without it, Start fails with ErrAddrInUse
	// when anything else listens on Addr, even a socket that would let
	// the server's own SO_REUSEPORT sockets join it. HTTP/1.1 on the poll
	// backend with two loops or more only (the engine sets SO_REUSEPORT
	// when it gives each loop a socket).
	ReusePort bool
}

// ErrAddrInUse is returned by Start when another socket listens on
// Config.Addr and Config.ReusePort is not set.
var ErrAddrInUse = errors.New("target: address already in use")

// DefaultIdleTimeout is the idle timeout of a zero Config.
const DefaultIdleTimeout = 2 * time.Minute

// Server is a running target server.
type Server struct {
	eng      *engine.Engine
	ln       *engine.Listener
	url      string
	certPEM  []byte
	roots    *x509.CertPool
	idle     time.Duration
	std      *stdServer // the HTTP/2 modes; eng and ln are nil then
	requests atomic.Int64
	once     sync.Once
}

// Stats are a server's counters.
type Stats struct {
	Requests int64 // requests answered (fully parsed and responded to)
	Accepted int64 // connections accepted
	Open     int64 // connections open now
}

// Start starts a server; it serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{idle: cfg.IdleTimeout}
	if s.idle == 0 {
		s.idle = DefaultIdleTimeout
	}
	switch cfg.HTTP2 {
	case H2None, H2C:
	case H2TLS:
		cfg.TLS = true
	default:
		return nil, fmt.Errorf("target: unknown HTTP2 mode %d", cfg.HTTP2)
	}
	if cfg.HTTP2 == H2C && cfg.TLS {
		return nil, errors.New("target: H2C is HTTP/2 in plain text; with TLS use H2TLS")
	}
	if cfg.ReusePort && cfg.HTTP2 != H2None {
		return nil, errors.New("target: ReusePort applies to the HTTP/1.1 server on the engine; the HTTP/2 modes run on net/http's")
	}
	// The engine's hybrid pattern gives each loop a socket of its own with
	// SO_REUSEPORT, and SO_REUSEPORT would as well let these sockets join
	// another process's listening on the port, of the same user: two
	// servers would then share it silently, each getting a part of the
	// connections. So unless sharing is asked for, first make sure that
	// nothing listens there (in the HTTP/2 modes too, for the same error).
	if !cfg.ReusePort {
		if err := checkFree(cfg.Addr); err != nil {
			return nil, err
		}
	}
	lc := &engine.ListenConfig{ReusePort: true}
	var tlsCert *tls.Certificate
	if cfg.TLS {
		cert, certPEM, err := selfSigned(host)
		if err != nil {
			return nil, err
		}
		s.certPEM = certPEM
		s.roots = x509.NewCertPool()
		s.roots.AddCert(cert.Leaf)
		tlsCert = &cert
		lc.Layer = tlsconn.Server(&tls.Config{
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"http/1.1"},
		})
	}
	if cfg.HTTP2 != H2None {
		if err := s.startStd(cfg.Addr, cfg.HTTP2, tlsCert); err != nil {
			return nil, err
		}
		s.setURL(cfg.TLS, s.std.ln.Addr().(*net.TCPAddr))
		return s, nil
	}
	s.eng, err = engine.New(engine.Config{Loops: cfg.Loops, Backend: cfg.Backend})
	if err != nil {
		return nil, err
	}
	if cfg.ReusePort && (s.eng.Backend() != engine.BackendPoll || s.eng.NumLoops() < 2) {
		// The engine sets SO_REUSEPORT only when it opens a socket per
		// loop: with one, or on the net backend, nothing could be shared.
		s.eng.Close()
		return nil, errors.New("target: ReusePort needs the poll backend and two loops or more")
	}
	s.ln, err = s.eng.Listen("tcp", cfg.Addr, s.accept, lc)
	if err != nil {
		s.eng.Close()
		return nil, err
	}
	s.setURL(cfg.TLS, s.ln.Addr().(*net.TCPAddr))
	return s, nil
}

// checkFree fails with ErrAddrInUse if something listens on addr: a bind
// without SO_REUSEPORT conflicts with any socket bound there, whether it
// has SO_REUSEPORT or not. Port 0 needs no check, since the kernel picks a
// port no socket is bound to.
func checkFree(addr string) error {
	if _, port, err := net.SplitHostPort(addr); err == nil && port == "0" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w: %s (another server listens there)", ErrAddrInUse, addr)
		}
		return err
	}
	return ln.Close()
}

func (s *Server) setURL(useTLS bool, a *net.TCPAddr) {
	s.url = "http://"
	if useTLS {
		s.url = "https://"
	}
	s.url += urlHost(a)
}

// urlHost renders a listening address for a URL, replacing a wildcard
// address with loopback, which reaches it too.
func urlHost(a *net.TCPAddr) string {
	ip := a.IP
	switch {
	case ip == nil || ip.Equal(net.IPv4zero):
		ip = net.IPv4(127, 0, 0, 1)
	case ip.Equal(net.IPv6unspecified):
		ip = net.IPv6loopback
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
}

// accept gives each accepted connection its handler; it runs on the loop
// that will own the connection.
func (s *Server) accept(c *engine.Conn) engine.Handler {
	return &conn{s: s, c: c}
}

// URL returns the server's base URL, such as "http://127.0.0.1:34567".
func (s *Server) URL() string { return s.url }

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr {
	if s.std != nil {
		return s.std.ln.Addr()
	}
	return s.ln.Addr()
}

// Engine returns the engine the server runs on; nil in the HTTP/2 modes,
// which run on net/http's server.
func (s *Server) Engine() *engine.Engine { return s.eng }

// CertificatePEM returns the server's certificate in PEM form (it is its
// own CA), for a client's CA file; nil without TLS.
func (s *Server) CertificatePEM() []byte { return s.certPEM }

// ClientTLSConfig returns a TLS configuration that trusts the server's
// certificate, with verification on; nil without TLS.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.roots == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12}
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	if s.std != nil {
		return Stats{Requests: s.requests.Load(), Accepted: s.std.accepted.Load(), Open: s.std.open.Load()}
	}
	es := s.eng.Stats()
	return Stats{Requests: s.requests.Load(), Accepted: es.Accepted, Open: es.Open}
}

// Close stops the server: it stops accepting, closes every connection
// and waits until every goroutine it started has exited.
func (s *Server) Close() error {
	s.once.Do(func() {
		if s.std != nil {
			s.std.close()
			return
		}
		s.ln.Close()
		s.eng.Close()
	})
	return nil
}

// dateCache holds the Date field value, formatted once a second rather
// than for every response.
var dateCache struct {
	mu  sync.Mutex
	sec atomic.Int64
	val atomic.Pointer[string]
}

// httpDate returns the current time as an HTTP date.
func httpDate() string {
	now := time.Now()
	if sec := now.Unix(); sec != dateCache.sec.Load() {
		dateCache.mu.Lock()
		if sec != dateCache.sec.Load() {
			v := now.UTC().Format(http.TimeFormat)
			dateCache.val.Store(&v)
			dateCache.sec.Store(sec)
		}
		dateCache.mu.Unlock()
	}
	return *dateCache.val.Load()
}
