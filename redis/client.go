package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/pool"
	"github.com/egress-go/egress/tlsconn"
)

// Client is a Redis client for one server. It is safe for concurrent use
// and meant to be shared: commands from all goroutines are multiplexed on
// Options.Conns shared connections (see the package documentation).
type Client struct {
	cmds
	opts   Options
	eng    *engine.Engine
	ownEng bool
	pool   *pool.Pool
	key    pool.Key
	tls    *tlsconn.Client
	host   string
	pipes  []*pipe
	rr     atomic.Uint32
	ctx    context.Context // ends at Close: aborts dials in progress
	cancel context.CancelFunc
	track  tracker

	mu        sync.Mutex
	closed    bool
	dedicated map[*Conn]struct{}   // open Conns and PubSubs, closed by Close
	pubsubs   map[*PubSub]struct{} // not yet closed: ended by Close, even while reconnecting
}

var errNoCommand = errors.New("redis: empty command")

// NewClient returns a client for the server in opts and starts opening its
// shared connections in the background; it does not wait for them (use
// Ping to). It fails only for invalid options.
func NewClient(opts Options) (*Client, error) {
	opts.setDefaults()
	if err := opts.check(); err != nil {
		return nil, err
	}
	c := &Client{opts: opts, host: splitHost(opts.Addr), dedicated: map[*Conn]struct{}{}, pubsubs: map[*PubSub]struct{}{}}
	c.cmds.cl = c
	var tlsCfg *tls.Config
	if opts.TLS != nil {
		tc, err := tlsconn.NewClient(opts.TLS)
		if err != nil {
			return nil, err
		}
		c.tls = tc
		tlsCfg = tc.TLSConfig()
	}
	c.eng = opts.Engine
	if c.eng == nil {
		e, err := engine.New(engine.Config{})
		if err != nil {
			return nil, err
		}
		c.eng, c.ownEng = e, true
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.key = pool.KeyFor("tcp", opts.Addr, tlsCfg, "")
	pc := pool.Config{
		Dial:           c.dial,
		MaxIdlePerKey:  opts.MaxIdleConns,
		MaxTotalPerKey: opts.MaxConns,
		IdleTimeout:    opts.IdleTimeout,
	}
	c.pool = pool.New(c.eng, pc)
	for i := 0; i < opts.Conns; i++ {
		c.pipes = append(c.pipes, newPipe(c, true, c.eng.Loop(i%c.eng.NumLoops())))
	}
	for _, p := range c.pipes {
		p.dial()
	}
	return c, nil
}

// NewClientURL is NewClient(ParseURL(url)).
func NewClientURL(url string) (*Client, error) {
	o, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	return NewClient(o)
}

// Options returns the client's options with defaults filled in.
func (c *Client) Options() Options { return c.opts }

// Engine returns the engine the client runs on.
func (c *Client) Engine() *engine.Engine { return c.eng }

// Pool returns the connection pool behind the client, for its statistics.
func (c *Client) Pool() *pool.Pool { return c.pool }

// Close fails queued commands with ErrClosed, closes every connection
// (commands in flight fail with a *ConnError wrapping ErrClosed, open Conns
// and PubSubs are closed) and waits until all of them have closed. It must
// not be called from a callback.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	ded := make([]*Conn, 0, len(c.dedicated))
	for d := range c.dedicated {
		ded = append(ded, d)
	}
	pss := make([]*PubSub, 0, len(c.pubsubs))
	for ps := range c.pubsubs {
		pss = append(pss, ps)
	}
	c.mu.Unlock()
	c.cancel()
	for _, p := range c.pipes {
		p.close()
	}
	for _, ps := range pss {
		ps.shutdown(ErrClosed) // stops its back-off timer, which nothing else would
	}
	for _, d := range ded {
		d.abort(ErrClosed)
	}
	c.pool.Close()
	if c.ownEng {
		c.eng.Close() // runs every OnClose before it returns
	}
	c.track.wait()
	return nil
}

// register adds a PubSub for Close to end; false if the client is closed.
func (c *Client) register(ps *PubSub) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.pubsubs[ps] = struct{}{}
	return true
}

func (c *Client) unregister(ps *PubSub) {
	c.mu.Lock()
	delete(c.pubsubs, ps)
	c.mu.Unlock()
}

// backoff returns the wait before redial attempt n (n >= 1 failures so
// far): exponential from MinRetryBackoff, capped, jittered over its upper
// half so that many clients do not redial in step.
func (c *Client) backoff(n int) time.Duration {
	d := c.opts.MinRetryBackoff
	for i := 1; i < n && d < c.opts.MaxRetryBackoff; i++ {
		d *= 2
	}
	d = min(d, c.opts.MaxRetryBackoff)
	return d/2 + rand.N(d/2+1)
}

// pick chooses the shared pipe for a command: round-robin over those that
// are up, or any when none is.
func (c *Client) pick() *pipe {
	if len(c.pipes) == 1 {
		return c.pipes[0]
	}
	n := uint32(len(c.pipes))
	i := c.rr.Add(1)
	for j := uint32(0); j < n; j++ {
		if p := c.pipes[(i+j)%n]; p.up.Load() {
			return p
		}
	}
	return c.pipes[i%n]
}

// route sends a command where its kind says.
func (c *Client) route(ctx context.Context, r replier, args []string) error {
	if len(args) == 0 {
		return errNoCommand
	}
	switch classify(args) {
	case kindNormal:
		return c.pick().send(r, args)
	case kindWait:
		if err := checkWait(args); err != nil {
			return err
		}
		return c.pick().sendHeld(r, args, waitHold(args))
	case kindBlocking:
		return c.sendDedicated(ctx, r, args)
	}
	return ErrStateful
}

// DoAsync sends a command and returns at once; cb receives the reply on
// an engine loop (see Callback). Commands from all goroutines share the
// client's connections and are written together (auto-pipelining);
// blocking commands such as BLPOP get a dedicated connection.
//
// If DoAsync returns an error (no command, ErrStateful, ErrClosed,
// ErrBufferFull, a *ConnError while the server is unreachable, or ctx
// already ended), cb is not called. Otherwise cb is called exactly once:
// with the reply; with ctx's error as soon as ctx ends (the reply, when it
// comes, is discarded); or with a *ConnError if the connection is lost.
//
// With a context that cannot end (context.Background) and a cb created
// once, DoAsync allocates nothing in steady state; a context with a
// deadline costs its registration with context.AfterFunc.
func (c *Client) DoAsync(ctx context.Context, cb Callback, args ...string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if ctx.Done() == nil {
		return c.route(ctx, cb, args)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	a := newAsyncCall(ctx, cb, c.pipes[0].home)
	if err := c.route(ctx, a, args); err != nil {
		a.stop()
		return err
	}
	return nil
}

// call is the blocking API's core: send, wait, return the filled waiter
// (to be recycled by the caller).
func (c *Client) call(ctx context.Context, conv convFunc, args []string) (*waiter, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := getWaiter(conv)
	if err := c.route(ctx, w, args); err != nil {
		w.recycle()
		return nil, err
	}
	if err := w.wait(ctx); err != nil {
		return nil, err
	}
	if w.err != nil {
		err := w.err
		w.recycle()
		return nil, err
	}
	return w, nil
}

// Do sends a command and waits for its reply, or for ctx to end (then the
// command fails with ctx's error at once and its reply is discarded when
// it comes). A server error reply is returned as the error, a *resp.Error.
func (c *Client) Do(ctx context.Context, args ...string) (Reply, error) {
	w, err := c.call(ctx, convReply, args)
	if err != nil {
		return Reply{}, err
	}
	r := w.r
	w.recycle()
	return r, nil
}

// tracker counts the connections (links) a client has not finished with,
// so that Close can wait for them.
type tracker struct {
	mu      sync.Mutex
	n       int
	waiting chan struct{}
	closed  bool
}

// add counts one more; false once wait has returned.
func (t *tracker) add() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.n++
	return true
}

func (t *tracker) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 && t.waiting != nil {
		close(t.waiting)
		t.waiting = nil
	}
	t.mu.Unlock()
}

func (t *tracker) wait() {
	t.mu.Lock()
	if t.n == 0 {
		t.closed = true
		t.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	t.waiting = ch
	t.mu.Unlock()
	<-ch
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
}
