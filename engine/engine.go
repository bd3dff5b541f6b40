package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/resolver"
)

// Backend selects how loops wait for socket readiness.
type Backend int

const (
	// BackendAuto uses BackendPoll where the platform has it, else BackendNet.
	BackendAuto Backend = iota
	// BackendPoll uses epoll (Linux) or kqueue (macOS, BSD) directly.
	BackendPoll
	// BackendNet uses Go's net package with a goroutine per connection:
	// portable, and selectable on Linux so that tests run against both.
	BackendNet
)

func (b Backend) String() string {
	switch b {
	case BackendPoll:
		return "poll"
	case BackendNet:
		return "net"
	}
	return "auto"
}

// Resolver looks up host names without blocking the caller. cb is called
// exactly once, possibly before LookupAsync returns. *resolver.Resolver
// implements it.
type Resolver interface {
	LookupAsync(ctx context.Context, network, host string, cb func(addrs []netip.Addr, err error))
}

// Config sets up an Engine. The zero value is ready to use.
type Config struct {
	// Loops is the number of event loops; default runtime.GOMAXPROCS(0).
	Loops int
	// Backend selects epoll/kqueue or Go's net package; default BackendAuto.
	Backend Backend
	// ReadBufferSize is the size of each loop's read buffer; default
	// 256 KiB. It is one buffer per loop, not per connection: a larger one
	// costs no idle memory, and a connection receiving a large body is
	// drained in fewer reads, which frees the sender's window sooner (a
	// 1 MiB GET at 64 connections: 1.6x the requests per second of 64 KiB
	// through http.Client, 1.05x through the Exchange API; 1 MiB was
	// slower again, the buffer no longer fitting the cache).
	ReadBufferSize int
	// WriteQueueLimit bounds the bytes a connection may have queued but not
	// yet written; Write fails with ErrWriteQueueFull beyond it. Default
	// 4 MiB.
	WriteQueueLimit int
	// Resolver resolves host names; default a resolver.Resolver with its
	// default settings (30 s cache), owned and closed by the engine.
	Resolver Resolver
	// DialTimeout bounds each dial (name look-up and every connect attempt
	// together) when DialOptions do not; default 30 s. Negative: none.
	DialTimeout time.Duration
	// KeepAlive is the TCP keep-alive period for new connections; default
	// 15 s; negative disables keep-alive.
	KeepAlive time.Duration
}

// Engine is a set of event loops driving non-blocking sockets.
type Engine struct {
	cfg      Config
	loops    []*Loop
	next     atomic.Uint32 // round-robin loop choice
	resolver Resolver
	ownRes   interface{ Close() }
	backend  Backend
	base     time.Time // origin of the loops' monotonic clock
	fds      fdTable   // the poll backend's descriptor-to-connection map

	mu        sync.Mutex
	closed    bool
	listeners map[*Listener]struct{}
	wg        sync.WaitGroup // loops and backend goroutines
}

// New starts an engine with cfg's loops running.
func New(cfg Config) (*Engine, error) {
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.GOMAXPROCS(0)
	}
	if cfg.ReadBufferSize <= 0 {
		cfg.ReadBufferSize = 256 << 10
	}
	if cfg.WriteQueueLimit <= 0 {
		cfg.WriteQueueLimit = 4 << 20
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 30 * time.Second
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	e := &Engine{cfg: cfg, base: time.Now(), listeners: map[*Listener]struct{}{}}
	e.backend = cfg.Backend
	if e.backend == BackendAuto {
		e.backend = BackendNet
		if pollSupported {
			e.backend = BackendPoll
		}
	}
	if e.backend == BackendPoll && !pollSupported {
		return nil, fmt.Errorf("egress: backend poll: %w on %s", ErrNotSupported, runtime.GOOS)
	}
	e.resolver = cfg.Resolver
	if e.resolver == nil {
		r := resolver.New(resolver.Config{})
		e.resolver, e.ownRes = r, r
	}
	for i := 0; i < cfg.Loops; i++ {
		l, err := newLoop(e, i)
		if err != nil {
			for _, l := range e.loops {
				l.stop()
			}
			e.wg.Wait()
			return nil, err
		}
		e.loops = append(e.loops, l)
		e.wg.Add(1)
		go l.run()
	}
	return e, nil
}

// Backend reports the backend in use (never BackendAuto).
func (e *Engine) Backend() Backend { return e.backend }

// NumLoops reports the number of loops.
func (e *Engine) NumLoops() int { return len(e.loops) }

// Loop returns loop i (0 <= i < NumLoops).
func (e *Engine) Loop(i int) *Loop { return e.loops[i] }

func (e *Engine) pickLoop() *Loop {
	if len(e.loops) == 1 {
		return e.loops[0]
	}
	return e.loops[int(e.next.Add(1)-1)%len(e.loops)]
}

func (e *Engine) now() int64 { return int64(time.Since(e.base)) }

// DialOptions tune one Dial. A nil *DialOptions means the engine defaults.
type DialOptions struct {
	// Timeout bounds the whole dial; 0 means the engine's DialTimeout,
	// negative means none (the context still applies).
	Timeout time.Duration
	// KeepAlive overrides the engine's keep-alive period when non-zero;
	// negative disables keep-alive.
	KeepAlive time.Duration
	// NoDelayOff leaves Nagle's algorithm on (TCP_NODELAY is on by default).
	NoDelayOff bool
	// IdleTimeout closes the connection with ErrIdleTimeout after this long
	// without reads or writes; 0 means none.
	IdleTimeout time.Duration
	// WriteQueueLimit overrides the engine's limit when positive.
	WriteQueueLimit int
	// Loop places the connection on this loop; nil picks one round-robin.
	Loop *Loop
	// Value is stored in the Conn (see Conn.Value) before any callback.
	Value any
	// Layer, if set, sits between the socket and h (TLS, for one): h sees
	// OnOpen once the layer is ready, and plaintext in OnData. A Layer
	// value serves one connection.
	Layer Layer
	// Trace, if set, is told of the dial's steps (httptrace's DNS and
	// connect hooks are built on it).
	Trace *DialTrace
}

// DialTrace hooks run on the loop, or on a resolver worker for DNSDone,
// as a dial goes through its steps. Nil fields are skipped; hooks must not
// block.
type DialTrace struct {
	DNSStart     func(host string)
	DNSDone      func(addrs []netip.Addr, err error)
	ConnectStart func(network, addr string)
	ConnectDone  func(network, addr string, err error)
}

// Dial starts connecting to address ("host:port") over network ("tcp",
// "tcp4" or "tcp6") and returns at once. h.OnOpen is called when the
// connection is established; if it cannot be, h.OnClose is called with a
// *DialError and OnOpen never is. Every address the name resolves to is
// tried in turn until one connects. Writes made before OnOpen are queued
// and sent once connected.
//
// Cancelling ctx, or its deadline passing, aborts a dial in progress; ctx
// has no effect once the connection is open. Dial itself fails only for a
// malformed address or network, or a closed engine, and then no callback
// is made.
func (e *Engine) Dial(ctx context.Context, network, address string, h Handler, opts *DialOptions) (*Conn, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	family, err := parseNetwork(network)
	if err != nil {
		return nil, err
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &DialError{Network: network, Address: address, Err: err}
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		if p, perr := net.LookupPort("tcp", portStr); perr == nil {
			port = uint64(p)
		} else {
			return nil, &DialError{Network: network, Address: address, Err: fmt.Errorf("invalid port %q", portStr)}
		}
	}
	if host == "" {
		host = "localhost"
	}
	if h == nil {
		return nil, errors.New("egress: Dial with nil handler")
	}
	var o DialOptions
	if opts != nil {
		o = *opts
	}
	l := o.Loop
	if l == nil {
		l = e.pickLoop()
	}
	c := newConn(l, h)
	if o.Value != nil || o.Layer != nil || o.IdleTimeout > 0 || o.WriteQueueLimit > 0 {
		x := c.extras()
		x.value, x.layer = o.Value, o.Layer
		x.idle.timeout, x.limit = max(o.IdleTimeout, 0), max(o.WriteQueueLimit, 0)
	}
	d := &dialState{
		ctx: ctx, network: network, family: int8(family), address: address, host: host, port: uint16(port), idx: -1,
		noDelay: !o.NoDelayOff, keepAlive: e.cfg.KeepAlive, timeout: e.cfg.DialTimeout, trace: o.Trace,
	}
	if o.KeepAlive != 0 {
		d.keepAlive = o.KeepAlive
	}
	if o.Timeout != 0 {
		d.timeout = o.Timeout
	}
	c.dial = d
	if !l.post(func() { l.startDial(c) }) {
		return nil, ErrEngineClosed
	}
	return c, nil
}

func parseNetwork(network string) (family int, err error) {
	switch network {
	case "tcp", "":
		return 0, nil
	case "tcp4":
		return 4, nil
	case "tcp6":
		return 6, nil
	}
	return 0, fmt.Errorf("egress: unsupported network %q", network)
}

// Stats are counters summed over an engine's loops.
type Stats struct {
	Open      int64 // established connections
	Dialing   int64 // dials in progress
	Accepted  int64 // connections accepted, total
	Dialed    int64 // dials that succeeded, total
	BytesIn   int64
	BytesOut  int64
	Queued    int64 // bytes queued for writing, now
	Closed    int64 // connections closed, total
	DialFails DialFailures
}

// DialFailures counts failed dials by reason.
type DialFailures struct {
	Refused  int64
	Timeout  int64
	DNS      int64
	Canceled int64
	Other    int64
}

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() Stats {
	var s Stats
	for _, l := range e.loops {
		c := &l.ctr
		s.Open += c.open.Load()
		s.Dialing += c.dialing.Load()
		s.Accepted += c.accepted.Load()
		s.Dialed += c.dialed.Load()
		s.BytesIn += c.bytesIn.Load()
		s.BytesOut += c.bytesOut.Load()
		s.Queued += c.queued.Load()
		s.Closed += c.closed.Load()
		s.DialFails.Refused += c.failRefused.Load()
		s.DialFails.Timeout += c.failTimeout.Load()
		s.DialFails.DNS += c.failDNS.Load()
		s.DialFails.Canceled += c.failCanceled.Load()
		s.DialFails.Other += c.failOther.Load()
	}
	return s
}

// Close shuts the engine down: it closes every listener and connection
// (each connection's OnClose runs once, with ErrEngineClosed), stops the
// loops and waits until every goroutine the engine started has exited.
// Close must not be called from a loop callback.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	ls := make([]*Listener, 0, len(e.listeners))
	for ln := range e.listeners {
		ls = append(ls, ln)
	}
	e.mu.Unlock()
	for _, ln := range ls {
		ln.Close()
	}
	for _, l := range e.loops {
		l.stop()
	}
	e.wg.Wait()
	if e.ownRes != nil {
		e.ownRes.Close()
	}
	return nil
}

func (e *Engine) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}
