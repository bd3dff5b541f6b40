package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http1"
	"github.com/egress-go/egress/http2"
	"github.com/egress-go/egress/pool"
	"github.com/egress-go/egress/tlsconn"
)

// Options configure a Transport. The zero value is ready to use.
type Options struct {
	// Engine runs the connections; nil starts one owned by the Transport
	// (one loop per core) and closed with it.
	Engine *engine.Engine
	// Pool settings; the zero value means pool.DefaultConfig (1,024 idle
	// per host, 90 s idle expiry). Pool.Dial is set by the Transport.
	Pool *pool.Config

	// DialTimeout bounds connecting (name look-up and TCP) and, for https
	// through a proxy, the wait for the proxy's answer to CONNECT, all
	// together; default 30 s. It holds even when the request has no
	// deadline: a proxy that never answers fails the request with an
	// error that wraps engine.ErrConnectTimeout.
	DialTimeout time.Duration
	// TLSClientConfig is used for https; nil means verification on with
	// the system roots, TLS 1.2 at least, and session resumption.
	TLSClientConfig *tls.Config
	// TLS, if set, gives the full TLS client settings: root CAs and client
	// certificates from PEM (the key may be encrypted), resumption,
	// handshake timeout. Its TLS field takes the place of TLSClientConfig.
	// Its NextProtos is ignored: the transport offers by ALPN the
	// protocols it speaks.
	TLS *tlsconn.Config
	// TLSHandshakeTimeout bounds the TLS handshake; default 10 s.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response head once
	// the request is written; 0 means none (the context still applies).
	ResponseHeaderTimeout time.Duration
	// BodyIdleTimeout fails a response whose body stops arriving for this
	// long; 0 means none.
	BodyIdleTimeout time.Duration
	// ExpectContinueTimeout is how long a request with "Expect:
	// 100-continue" waits for the server's go-ahead before sending the
	// body anyway; default 1 s.
	ExpectContinueTimeout time.Duration
	// MaxResponseHeaderBytes bounds a response's head, as net/http's
	// option of that name does: over HTTP/1.1 its status lines and
	// fields, interim (1xx) heads included; over HTTP/2 the decoded
	// header list, which is also advertised to the server
	// (SETTINGS_MAX_HEADER_LIST_SIZE) unless HTTP2.Config sets its own.
	// A head over it fails the request with an error wrapping
	// http1.ErrHeaderTooLarge or http2.ErrHeaderListTooLarge (over
	// HTTP/2, a single field longer than the bound cannot be decoded at
	// all and fails its connection with COMPRESSION_ERROR). Default
	// 64 KiB, where net/http's is 10 MB: a tighter bound keeps small what
	// a broken or hostile server can make a connection hold. Raise it for
	// servers that send very large cookies or many long fields.
	MaxResponseHeaderBytes int64
	// MaxResponseHeaderFields bounds the field lines of an HTTP/1.1
	// response head: a head with more fails with an error wrapping
	// http1.ErrTooManyFields. Default 100. (Over HTTP/2 the header list's
	// size is the bound.)
	MaxResponseHeaderFields int
	// BodyWindow bounds the response bytes buffered ahead of a body's
	// reader; past it the connection stops reading (back-pressure).
	// Default 64 KiB.
	BodyWindow int
	// DisableCompression stops the transport from asking for gzip and
	// decoding it, as in net/http.
	DisableCompression bool
	// DisableKeepAlives closes every connection after one request.
	DisableKeepAlives bool
	// Proxy returns the proxy for a request, as http.ProxyFromEnvironment
	// does; nil means no proxy.
	Proxy func(*http.Request) (*url.URL, error)

	// HTTP2 configures HTTP/2, which https connections negotiate by ALPN
	// when the server offers it.
	HTTP2 HTTP2Options
}

// HTTP2Options configure HTTP/2. The zero value is ready to use.
type HTTP2Options struct {
	// Disable offers only HTTP/1.1 by ALPN, and never speaks HTTP/2.
	Disable bool
	// PriorKnowledge speaks HTTP/2 over plain-text connections (http://
	// URLs) without asking first ("h2c with prior knowledge", as curl's
	// --http2-prior-knowledge): for servers known to accept it. Not used
	// through a proxy.
	PriorKnowledge bool
	// WaitForStreams: when every HTTP/2 connection to a host has as many
	// streams open as the server allows, requests wait for a stream
	// rather than open another connection (up to Pool.MaxTotalPerKey).
	WaitForStreams bool
	// ReadIdleTimeout is the health check: a connection with requests in
	// flight that receives nothing for this long gets a PING, and is
	// closed if the answer does not come within PingTimeout, failing its
	// requests with ErrHealthCheck. Default 15 s; negative turns it off.
	ReadIdleTimeout time.Duration
	// PingTimeout bounds the wait for a health-check PING's answer, and
	// a request's wait on a connection whose server allows no streams
	// (see ErrNoStreams). Default 5 s.
	PingTimeout time.Duration
	// Config tunes the protocol: windows, frame and header limits, flood
	// budgets (see package http2).
	Config http2.Config
}

// Transport is an HTTP client on the engine: an http.RoundTripper and a
// non-blocking API (Send). It is safe for concurrent use; create one per
// set of settings and share it.
type Transport struct {
	opts    Options
	eng     *engine.Engine
	ownEng  bool
	pool    *pool.Pool
	tls     *tlsClients
	keys    keyCache
	h1lim   http1.Limits // the HTTP/1.1 response parser's, from Options
	closed  atomic.Bool
	stats   transportCounters
	closeMu sync.Mutex

	h2mu    sync.Mutex
	h2conns map[*h2conn]struct{} // see trackH2

	// held lists, per loop (by Loop.ID), the HTTP/2 streams whose head
	// came in the read the loop is handling, so that their callers are
	// woken once at its end (h2conn.OnData). Loop-owned; a list per loop
	// rather than per connection keeps an idle h2conn small.
	held []*h2stream
	// parked lists, per loop, the HTTP/2 streams waiting for a server
	// that allows none (MAX_CONCURRENT_STREAMS 0) to allow one (see
	// h2stream.park). Loop-owned, like held.
	parked []*h2stream
}

type transportCounters struct {
	requests, retries, unprocessed, failures atomic.Int64
	goAways, streamResets                    atomic.Int64
}

// Stats are a transport's counters.
type Stats struct {
	Requests int64 // requests started
	Retries  int64 // replays on a fresh connection (DESIGN rule 6)
	// Unprocessed counts the Retries of requests an HTTP/2 server said it
	// did not process (REFUSED_STREAM, or above a GOAWAY's last stream),
	// or that could not open a stream at all.
	Unprocessed int64
	// GoAways counts the GOAWAY frames HTTP/2 servers sent, and
	// StreamResets the streams they reset (RST_STREAM, any code,
	// REFUSED_STREAM included): what a load test reports of the server's
	// pushback.
	GoAways      int64
	StreamResets int64
	Failures     int64 // requests that ended in an error
	Pool         pool.Stats
}

// NewTransport creates a Transport.
func NewTransport(opts Options) (*Transport, error) {
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 30 * time.Second
	}
	if opts.TLSHandshakeTimeout == 0 {
		opts.TLSHandshakeTimeout = 10 * time.Second
	}
	if opts.ExpectContinueTimeout == 0 {
		opts.ExpectContinueTimeout = DefaultExpectContinueTimeout
	}
	if opts.BodyWindow <= 0 {
		opts.BodyWindow = DefaultBodyWindow
	}
	if opts.HTTP2.ReadIdleTimeout == 0 {
		opts.HTTP2.ReadIdleTimeout = DefaultReadIdleTimeout
	}
	if opts.HTTP2.PingTimeout <= 0 {
		opts.HTTP2.PingTimeout = DefaultPingTimeout
	}
	if n := opts.MaxResponseHeaderBytes; n > 0 && opts.HTTP2.Config.MaxHeaderListSize == 0 {
		opts.HTTP2.Config.MaxHeaderListSize = uint32(min(n, math.MaxUint32))
	}
	t := &Transport{opts: opts, eng: opts.Engine, h1lim: http1.Limits{
		MaxHeadBytes:    int(min(max(opts.MaxResponseHeaderBytes, 0), math.MaxInt32)),
		MaxHeaderFields: opts.MaxResponseHeaderFields,
	}}
	if t.eng == nil {
		e, err := engine.New(engine.Config{})
		if err != nil {
			return nil, err
		}
		t.eng, t.ownEng = e, true
	}
	t.held = make([]*h2stream, t.eng.NumLoops())
	t.parked = make([]*h2stream, t.eng.NumLoops())
	pc := pool.DefaultConfig()
	if opts.Pool != nil {
		pc = *opts.Pool
	}
	if opts.DisableKeepAlives {
		pc.MaxIdlePerKey = 0
	}
	pc.WaitForStreams = pc.WaitForStreams || opts.HTTP2.WaitForStreams
	pc.Dial = t.dial
	protos := alpnProtos
	if opts.HTTP2.Disable {
		protos = alpnHTTP1
	}
	tc, err := newTLSClients(opts, protos)
	if err != nil {
		if t.ownEng {
			t.eng.Close()
		}
		return nil, err
	}
	t.tls = tc
	t.pool = pool.New(t.eng, pc)
	return t, nil
}

// alpnProtos are the protocols a transport offers over TLS, in order of
// preference; alpnHTTP1 with HTTP/2 disabled.
var (
	alpnProtos = []string{"h2", "http/1.1"}
	alpnHTTP1  = []string{"http/1.1"}
)

// Engine returns the engine the transport runs on.
func (t *Transport) Engine() *engine.Engine { return t.eng }

// Pool returns the transport's connection pool.
func (t *Transport) Pool() *pool.Pool { return t.pool }

// Stats returns the transport's counters.
func (t *Transport) Stats() Stats {
	return Stats{
		Requests:     t.stats.requests.Load(),
		Retries:      t.stats.retries.Load(),
		Unprocessed:  t.stats.unprocessed.Load(),
		GoAways:      t.stats.goAways.Load(),
		StreamResets: t.stats.streamResets.Load(),
		Failures:     t.stats.failures.Load(),
		Pool:         t.pool.Stats(),
	}
}

// Close closes every connection; requests in flight fail. An engine the
// transport started is shut down too.
func (t *Transport) Close() error {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	if t.closed.Swap(true) {
		return nil
	}
	t.pool.Close()
	t.closeH2()
	if t.ownEng {
		t.eng.Close()
	}
	return nil
}

func (t *Transport) isOpen() bool { return !t.closed.Load() }

// countRetry counts a replay of a request that failed with err.
func (t *Transport) countRetry(err error) {
	t.stats.retries.Add(1)
	if unprocessed(err) {
		t.stats.unprocessed.Add(1)
	}
}

// dial opens a pooled connection: TCP, then TLS for https keys.
func (t *Transport) dial(ctx context.Context, key pool.Key, h engine.Handler) (*engine.Conn, error) {
	ct := httptrace.ContextClientTrace(ctx)
	o := &engine.DialOptions{Timeout: t.opts.DialTimeout, Trace: dialTrace(ct)}
	if key.TLS != nil {
		host, _, err := net.SplitHostPort(key.Addr)
		if err != nil {
			return nil, err
		}
		o.Layer = t.tls.layer(key.TLS, host)
		h = traceTLS(ct, o, h)
	}
	dial := func(addr string, h engine.Handler, o *engine.DialOptions) (*engine.Conn, error) {
		return t.eng.Dial(ctx, "tcp", addr, h, o)
	}
	if key.Proxy != "" {
		return t.dialProxy(key, h, o, dial)
	}
	return dial(key.Addr, h, o)
}

// keyCache remembers the pool key of each scheme and authority seen, so
// that a request to a known host builds no strings. It is bounded: when
// full it starts over. last is the entry most recently used, read
// without the lock: most transports talk to one host at a time.
type keyCache struct {
	last atomic.Pointer[cachedKey]
	mu   sync.Mutex
	m    map[[2]string]*cachedKey
}

type cachedKey struct {
	scheme, host string
	key          pool.Key
}

const keyCacheSize = 4096

// keyFor returns the pool key of a request URL.
func (t *Transport) keyFor(u *url.URL) (pool.Key, error) {
	c := &t.keys
	if e := c.last.Load(); e != nil && e.host == u.Host && e.scheme == u.Scheme {
		return e.key, nil
	}
	ck := [2]string{u.Scheme, u.Host}
	c.mu.Lock()
	e := c.m[ck]
	c.mu.Unlock()
	if e == nil {
		k, err := t.makeKey(u)
		if err != nil {
			return k, err
		}
		e = &cachedKey{scheme: u.Scheme, host: u.Host, key: k}
		c.mu.Lock()
		if c.m == nil || len(c.m) >= keyCacheSize {
			c.m = make(map[[2]string]*cachedKey)
		}
		c.m[ck] = e
		c.mu.Unlock()
	}
	c.last.Store(e)
	return e.key, nil
}

// dialTrace passes the engine's dial steps to httptrace's hooks.
func dialTrace(ct *httptrace.ClientTrace) *engine.DialTrace {
	if ct == nil || (ct.DNSStart == nil && ct.DNSDone == nil && ct.ConnectStart == nil && ct.ConnectDone == nil) {
		return nil
	}
	return &engine.DialTrace{
		DNSStart: func(host string) {
			if ct.DNSStart != nil {
				ct.DNSStart(httptrace.DNSStartInfo{Host: host})
			}
		},
		DNSDone: func(addrs []netip.Addr, err error) {
			if ct.DNSDone != nil {
				ips := make([]net.IPAddr, len(addrs))
				for i, a := range addrs {
					ips[i] = net.IPAddr{IP: a.AsSlice(), Zone: a.Zone()}
				}
				ct.DNSDone(httptrace.DNSDoneInfo{Addrs: ips, Err: err})
			}
		},
		ConnectStart: ct.ConnectStart,
		ConnectDone:  ct.ConnectDone,
	}
}

// makeKey builds the pool key of a request URL.
func (t *Transport) makeKey(u *url.URL) (pool.Key, error) {
	var port string
	var cfg *tls.Config
	switch strings.ToLower(u.Scheme) {
	case "http":
		port = "80"
	case "https":
		port = "443"
		cfg = t.tls.config()
	default:
		return pool.Key{}, ErrUnsupportedScheme
	}
	host := u.Hostname()
	if host == "" {
		return pool.Key{}, errors.New("egress: URL has no host")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return pool.KeyFor("tcp", net.JoinHostPort(host, port), cfg, ""), nil
}
