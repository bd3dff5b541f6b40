package resolver

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero values in Config.
const (
	DefaultTTL         = 30 * time.Second
	DefaultNegativeTTL = 2 * time.Second
	DefaultMaxEntries  = 10000
	DefaultWorkers     = 16
	DefaultTimeout     = 5 * time.Second
)

// Config configures a Resolver. The zero value is ready to use.
type Config struct {
	// TTL is how long an answer is served from the cache. Zero means
	// DefaultTTL; negative disables caching of answers.
	TTL time.Duration

	// NegativeTTL is how long a "not found" answer is served from the
	// cache. Zero means DefaultNegativeTTL; negative disables it.
	// Timeouts and other failures are never cached.
	NegativeTTL time.Duration

	// MaxEntries bounds the cache. When it is full, expired entries go
	// first, then the oldest. Zero means DefaultMaxEntries; negative
	// disables the cache.
	MaxEntries int

	// Workers is the most lookups that run at once, each on its own
	// goroutine that exits when no lookup is queued. Zero or negative
	// means DefaultWorkers.
	Workers int

	// Timeout bounds each lookup, whoever waits for it, counted from when
	// it is queued: a wait for a free worker counts, and a lookup whose
	// Timeout ran out in the queue fails with ErrTimeout without being
	// made. Zero or negative means DefaultTimeout.
	Timeout time.Duration

	// Lookup resolves one name; nil means net.DefaultResolver.LookupNetIP.
	// It must return when ctx is done, or Close cannot return. Its slice
	// is copied, filtered to the network, with IPv4-mapped addresses
	// unmapped, so it may be reused after Lookup returns.
	Lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)

	now func() time.Time // the cache's clock; tests replace it
}

// Resolver resolves host names asynchronously with a bounded number of
// workers, merges concurrent lookups of one name, and caches answers.
// It is safe for concurrent use. Create one with New; stop it with Close.
type Resolver struct {
	// Settled configuration.
	ttl, negTTL time.Duration
	maxWorkers  int
	timeout     time.Duration
	lookup      func(context.Context, string, string) ([]netip.Addr, error)
	now         func() time.Time

	isClosed atomic.Bool // lets the paths that take no lock see Close

	mu      sync.Mutex
	closed  bool
	cache   cache
	flights map[key]*flight // queued or running, by key
	queue   flightQueue
	workers int            // running worker goroutines
	wg      sync.WaitGroup // one per worker, for Close

	nLookups, nHits, nLiterals, nMerged atomic.Uint64
	nErrs                               [kindClosed + 1]atomic.Uint64
}

// New returns a Resolver configured by cfg. It starts no goroutine.
func New(cfg Config) *Resolver {
	r := &Resolver{
		ttl:        orDefault(cfg.TTL, DefaultTTL),
		negTTL:     orDefault(cfg.NegativeTTL, DefaultNegativeTTL),
		maxWorkers: cfg.Workers,
		timeout:    cfg.Timeout,
		lookup:     cfg.Lookup,
		now:        cfg.now,
		flights:    make(map[key]*flight),
	}
	if r.maxWorkers <= 0 {
		r.maxWorkers = DefaultWorkers
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.lookup == nil {
		r.lookup = net.DefaultResolver.LookupNetIP
	}
	if r.now == nil {
		r.now = time.Now
	}
	maxEntries := cfg.MaxEntries
	if maxEntries == 0 {
		maxEntries = DefaultMaxEntries
	}
	r.cache = newCache(maxEntries, r.ttl, r.negTTL)
	return r
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// LookupAsync resolves host for network ("ip", "ip4" or "ip6") and calls cb
// exactly once with the addresses or an *Error. It never blocks: it is
// meant to be called from an event loop.
//
// cb runs synchronously, before LookupAsync returns and on the caller's
// goroutine, when the answer is known at once: an IP literal (an IPv6 zone
// is kept), a cached answer, bad input, an already-done ctx, or a closed
// Resolver. Otherwise it runs later on another goroutine: a worker, the
// goroutine that ended ctx, or the one calling Close. Either way no lock of
// the Resolver is held, and cb must not block, since it delays other
// answers; an event loop should post the result to its own queue.
// A cache hit does not allocate; an IP literal costs one small slice.
//
// The addresses, IPv4 and IPv6 alike, are in the order the system resolver
// gave them; a dialer should try each in turn. The slice is shared with
// the cache and with other callers and must not be modified (its capacity
// equals its length, so append copies).
//
// The host is matched as given: "Example.com" and "example.com" are
// cached apart.
//
// Concurrent calls for the same network and host share one lookup. Each
// caller keeps its own ctx: when it ends first, that caller alone is
// answered at once with an error wrapping ctx.Err(), and the lookup is
// cancelled only when no caller is left.
func (r *Resolver) LookupAsync(ctx context.Context, network, host string, cb func(addrs []netip.Addr, err error)) {
	if cb == nil {
		panic("resolver: LookupAsync with nil callback")
	}
	if addrs, err, ok := r.precheck(ctx, network, host); ok {
		r.deliver(cb, addrs, err)
		return
	}
	k := key{network, host}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.deliver(cb, nil, newError(network, host, kindClosed, ErrClosed))
		return
	}
	if e := r.cached(k); e != nil {
		r.mu.Unlock()
		r.deliver(cb, e.addrs, e.error())
		return
	}
	f := r.flights[k]
	if f == nil {
		f = &flight{key: k, vctx: context.WithoutCancel(ctx), deadline: time.Now().Add(r.timeout)}
		r.flights[k] = f
		r.enqueue(f)
	} else {
		r.nMerged.Add(1)
	}
	w := &waiter{r: r, ctx: ctx, cb: cb}
	f.add(w)
	if ctx.Done() != nil {
		// Registered under the lock so that w.stop is set before anyone
		// can detach w. AfterFunc never calls ctxDone synchronously (it
		// starts a goroutine), so this cannot deadlock.
		w.stop = context.AfterFunc(ctx, w.ctxDone)
	}
	r.mu.Unlock()
}

// Lookup is the blocking form of LookupAsync, for callers that are not on
// an event loop. It has the same answers and errors.
func (r *Resolver) Lookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if addrs, err, ok := r.precheck(ctx, network, host); ok {
		r.count(err)
		return addrs, err
	}
	// A cache hit needs no channel and no callback.
	r.mu.Lock()
	e := r.cached(key{network, host})
	r.mu.Unlock()
	if e != nil {
		err := e.error()
		r.count(err)
		return e.addrs, err
	}
	type result struct {
		addrs []netip.Addr
		err   error
	}
	ch := make(chan result, 1)
	r.LookupAsync(ctx, network, host, func(addrs []netip.Addr, err error) {
		ch <- result{addrs, err}
	})
	res := <-ch
	return res.addrs, res.err
}

// precheck answers what needs neither the lock nor a lookup: bad input, a
// done ctx, a closed Resolver, an IP literal. ok is false otherwise.
func (r *Resolver) precheck(ctx context.Context, network, host string) (addrs []netip.Addr, err error, ok bool) {
	if e := checkInput(network, host); e != nil {
		return nil, e, true
	}
	if ctx.Err() != nil {
		return nil, ctxError(ctx, network, host), true
	}
	if r.isClosed.Load() {
		return nil, newError(network, host, kindClosed, ErrClosed), true
	}
	if addrs, e, ok := literal(network, host); ok {
		r.nLiterals.Add(1)
		if e != nil {
			return nil, e, true
		}
		return addrs, nil, true
	}
	return nil, nil, false
}

// cached returns the live cache entry for k and counts the hit, or nil.
// Called with r.mu held.
func (r *Resolver) cached(k key) *entry {
	e := r.cache.get(k, r.now())
	if e != nil {
		r.nHits.Add(1)
	}
	return e
}

// deliver is the one place callbacks are called, so that every error a
// caller sees is counted.
func (r *Resolver) deliver(cb func([]netip.Addr, error), addrs []netip.Addr, err error) {
	r.count(err)
	cb(addrs, err)
}

func (r *Resolver) count(err error) {
	if e, ok := err.(*Error); ok {
		r.nErrs[e.kind].Add(1)
	}
}

// Close fails every queued or running lookup with ErrClosed, cancels the
// running ones, drops the cache, and returns once every worker goroutine
// has exited. Later calls fail with ErrClosed. Close may be called more
// than once, but not from a callback running on a worker, which would
// wait for itself.
func (r *Resolver) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.wg.Wait()
		return
	}
	r.closed = true
	r.isClosed.Store(true)
	type failed struct {
		ws  []*waiter
		err *Error
	}
	var fs []failed
	var cancels []context.CancelFunc
	for k, f := range r.flights {
		fs = append(fs, failed{f.detachAll(), newError(k.network, k.host, kindClosed, ErrClosed)})
		if f.cancel != nil {
			cancels = append(cancels, f.cancel)
		}
	}
	clear(r.flights)
	r.queue = flightQueue{}
	r.cache.clear()
	r.mu.Unlock()

	for _, cancel := range cancels {
		cancel()
	}
	for _, f := range fs {
		for _, w := range f.ws {
			if w.stop != nil {
				w.stop()
			}
			r.deliver(w.cb, nil, f.err)
		}
	}
	r.wg.Wait()
}
