package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/resp"
)

// numSlots is the number of hash slots a Redis Cluster divides keys into.
const numSlots = 16384

// ClusterOptions configure a ClusterClient.
type ClusterOptions struct {
	// Addrs are seed nodes ("host:port"). The slot map is read from the
	// first that answers; the nodes it names are used from then on.
	Addrs []string

	// Node configures the connections to every node as Options does for a
	// Client: Username, Password, ClientName, Protocol, TLS, Conns,
	// Engine, DialTimeout, ReadTimeout, the back-offs, MaxConns, MaxIdleConns,
	// IdleTimeout, WriteBufferLimit, Limits. Node.Addr and Node.DB are
	// ignored: a cluster has database 0 only.
	Node Options

	// ReadFromReplicas sends read-only commands (GET, HGETALL, ...) to the
	// replicas of their slot, round-robin, with READONLY on every
	// connection; a replica that is not connected is skipped for the
	// master. Off by default: a replica may lag its master, so a read
	// after a write may not see it.
	ReadFromReplicas bool

	// MaxRedirects bounds the MOVED and ASK redirections one command
	// follows. Default 16.
	MaxRedirects int

	// MaxRetryTime bounds how long a command that could not be delivered
	// (TRYAGAIN, CLUSTERDOWN, its node unreachable before it was sent) is
	// retried, when its context has no earlier deadline. Default 5 s:
	// longer than a failover with a node timeout of a few seconds.
	MaxRetryTime time.Duration

	// RefreshInterval is how often the slot map is read again when nothing
	// forced it sooner (redirections and connection failures do, merged
	// so that a burst of them costs one read). Default 30 s.
	RefreshInterval time.Duration

	// MaxNodes bounds the nodes the client holds a Client, and so
	// connections, for: the seeds, the nodes of the slot map (masters,
	// and their replicas with ReadFromReplicas) and the nodes MOVED and
	// ASK replies named since, so that a broken or hostile node cannot
	// make it open connections to ever more addresses. A map that names
	// more (with the seeds) is refused and the map in use is kept: the
	// read fails with an error wrapping ErrTooManyNodes, as Refresh
	// reports. A redirection to a node not held while MaxNodes are fails
	// its command with a *ClusterError wrapping ErrTooManyNodes. Nodes
	// that left the map are let go at once when a new map needs their
	// room. Default 4096: four times the 1000 nodes Redis Cluster is
	// designed for, room for a cluster whose nodes are all being replaced,
	// while a hostile map costs at most 4096 times Node.Conns connections.
	MaxNodes int
}

func (o *ClusterOptions) setDefaults() {
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = 16
	}
	if o.MaxRetryTime <= 0 {
		o.MaxRetryTime = 5 * time.Second
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 30 * time.Second
	}
	if o.MaxNodes <= 0 {
		o.MaxNodes = defaultMaxNodes
	}
}

// defaultMaxNodes is ClusterOptions.MaxNodes' default.
const defaultMaxNodes = 4096

// minRefreshGap spaces map reads: a storm of redirections after a
// resharding causes one read, then another at most this much later.
const minRefreshGap = 100 * time.Millisecond

// ClusterClient is a client for a Redis Cluster. It has the command API of
// Client (Do, DoAsync, the typed commands, Pipeline, TxPipeline), so code
// moves from one server to a cluster by changing the constructor. Each
// command goes to the master serving its key's hash slot, over that
// node's shared, auto-pipelined connections; all nodes share one engine.
//
// The slot map comes from CLUSTER SHARDS (CLUSTER SLOTS on servers before
// 7.0) and is kept current: a MOVED reply updates the slot at once and
// the command is resent to the node named; an ASK reply resends the
// command once to the node named, after ASKING; TRYAGAIN and CLUSTERDOWN,
// and a node that cannot be reached before the command was sent, are
// retried with back-off within the command's deadline (or
// ClusterOptions.MaxRetryTime). The map is read again after redirections
// and connection failures, and every RefreshInterval.
//
// A command whose keys hash to different slots fails before anything is
// sent with a *CrossSlotError (use {hash tags} to keep related keys
// together). Commands without a key go to any master. Errors that come
// from the cluster rather than the command are *ClusterError values,
// which name the node and the slot.
type ClusterClient struct {
	cmds
	opts   ClusterOptions
	eng    *engine.Engine
	ownEng bool
	home   *engine.Loop // runs the retry timers

	slots   [numSlots]atomic.Pointer[shard]
	masters atomic.Pointer[[]*clusterNode] // for keyless commands
	rr      atomic.Uint32

	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	kick    chan struct{} // asks the refresher for a map read
	done    chan struct{} // closed when the refresher has stopped
	loading chan struct{} // holds a token while a map read runs: one at a time

	// Map reads are numbered as they begin. A refresh asked for once
	// reads up to wantAfter had begun is met by any later read that
	// succeeded, so a request that a read already answered (Refresh's, or
	// one begun after a redirection) costs no second read.
	readsBegun atomic.Uint64
	wantAfter  atomic.Uint64
	lastGood   uint64 // the number of the last read that succeeded; with the loading token

	mu     sync.Mutex
	closed bool
	nodes  map[string]*clusterNode
	byAddr map[string]*shard // the shards of the last map, by master
	loaded bool              // a map has been read

	retrying map[retrier]*engine.Timer // commands waiting for a retry, with its timer
	retiring sync.WaitGroup            // closing the nodes a map read dropped
}

// clusterNode is one server of the cluster and the Client that talks to
// it.
type clusterNode struct {
	addr   string
	cl     *Client
	seed   bool // named in ClusterOptions.Addrs: kept when it leaves the map
	absent int  // map reads in a row that did not name it
}

// shard is a master and its replicas, as the last map read showed them.
type shard struct {
	master   *clusterNode
	replicas []*clusterNode
	rr       atomic.Uint32
}

// NewClusterClient returns a client for the cluster that opts.Addrs belong
// to. It starts reading the slot map in the background and does not wait
// for it: commands sent meanwhile go to a seed node and follow its MOVED
// replies. It fails only for invalid options.
func NewClusterClient(opts ClusterOptions) (*ClusterClient, error) {
	opts.setDefaults()
	if len(opts.Addrs) == 0 {
		return nil, errors.New("redis: cluster needs at least one seed address")
	}
	node := opts.Node
	node.Addr, node.DB = opts.Addrs[0], 0
	node.setDefaults()
	if err := node.check(); err != nil {
		return nil, err
	}
	seeds := map[string]bool{}
	for _, a := range opts.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("redis: invalid cluster address %q: %w", a, err)
		}
		seeds[a] = true
	}
	if len(seeds) > opts.MaxNodes {
		return nil, fmt.Errorf("redis: %d cluster seed addresses: %w (%d)", len(seeds), ErrTooManyNodes, opts.MaxNodes)
	}
	c := &ClusterClient{opts: opts, nodes: map[string]*clusterNode{}, byAddr: map[string]*shard{},
		kick: make(chan struct{}, 1), done: make(chan struct{}), loading: make(chan struct{}, 1)}
	c.cmds.cc = c
	c.eng = node.Engine
	if c.eng == nil {
		e, err := engine.New(engine.Config{})
		if err != nil {
			return nil, err
		}
		c.eng, c.ownEng = e, true
	}
	c.opts.Node = node
	c.opts.Node.Engine = c.eng
	c.opts.Node.readOnly = opts.ReadFromReplicas
	c.home = c.eng.Loop(0)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.refresher()
	c.mu.Lock()
	for _, a := range opts.Addrs {
		if _, err := c.nodeLocked(a); err != nil {
			c.mu.Unlock()
			c.shutdown()
			return nil, err
		}
		c.nodes[a].seed = true
	}
	c.mu.Unlock()
	c.requestRefresh()
	return c, nil
}

// NewClusterClientURL is NewClusterClient with the options of a URL:
//
//	redis://[[user]:password@]host:port[?addr=host2:port2&addr=host3:port3&option=value]
//	rediss://...   (TLS)
//
// The URL's host and every addr are seed nodes; the other options are
// those of ParseURL, applied to every node (a database is refused: a
// cluster has only database 0).
func NewClusterClientURL(rawURL string) (*ClusterClient, error) {
	o, err := ParseClusterURL(rawURL)
	if err != nil {
		return nil, err
	}
	return NewClusterClient(o)
}

// ParseClusterURL parses the URL NewClusterClientURL takes.
func ParseClusterURL(rawURL string) (ClusterOptions, error) {
	var co ClusterOptions
	u, err := url.Parse(rawURL)
	if err != nil {
		return co, fmt.Errorf("redis: %w", err)
	}
	q := u.Query()
	extra := q["addr"]
	q.Del("addr")
	u.RawQuery = q.Encode()
	o, err := ParseURL(u.String())
	if err != nil {
		return co, err
	}
	if o.DB != 0 {
		return co, errors.New("redis: a cluster has only database 0")
	}
	co.Node = o
	co.Addrs = append([]string{o.Addr}, extra...)
	return co, nil
}

// Engine returns the engine the client runs on.
func (c *ClusterClient) Engine() *engine.Engine { return c.eng }

// Close fails queued commands with ErrClosed, closes the connections to
// every node (commands in flight fail with a *ConnError wrapping
// ErrClosed) and waits until they have closed. It must not be called from
// a callback.
func (c *ClusterClient) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.shutdown()
	return nil
}

func (c *ClusterClient) shutdown() {
	c.cancel()
	<-c.done // the refresher has stopped: no map read creates a node now
	c.failRetrying()
	c.mu.Lock()
	c.closed = true
	nodes := make([]*clusterNode, 0, len(c.nodes))
	for _, n := range c.nodes {
		nodes = append(nodes, n)
	}
	c.mu.Unlock()
	for _, n := range nodes {
		n.cl.Close()
	}
	c.retiring.Wait()
	if c.ownEng {
		c.eng.Close()
	}
}

// nodeLocked returns the node at addr, creating its client the first time.
func (c *ClusterClient) nodeLocked(addr string) (*clusterNode, error) {
	if n := c.nodes[addr]; n != nil {
		return n, nil
	}
	if c.closed {
		return nil, ErrClosed
	}
	o := c.opts.Node
	o.Addr = addr
	cl, err := NewClient(o)
	if err != nil {
		return nil, err
	}
	n := &clusterNode{addr: addr, cl: cl}
	c.nodes[addr] = n
	return n, nil
}

// node returns the node at addr, as a redirection names it.
func (c *ClusterClient) node(addr string) (*clusterNode, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.redirectedLocked(addr)
}

// redirectedLocked returns the node at addr, as a redirection names it:
// a new one only while fewer than MaxNodes are held. A map read checks its
// nodes all at once (apply) and a redirection cannot make room, so a
// stream of redirections to new addresses between map reads stops here.
func (c *ClusterClient) redirectedLocked(addr string) (*clusterNode, error) {
	if n := c.nodes[addr]; n != nil {
		return n, nil
	}
	if len(c.nodes) >= c.opts.MaxNodes {
		return nil, ErrTooManyNodes
	}
	return c.nodeLocked(addr)
}

// pick returns the node a command for slot goes to: the slot's master, or
// for a read-only command with ReadFromReplicas one of its connected
// replicas; any master for a keyless command (slot -1) or a slot the map
// does not cover yet.
func (c *ClusterClient) pick(slot int, readonly bool) *clusterNode {
	if slot >= 0 {
		if s := c.slots[slot].Load(); s != nil {
			if readonly && c.opts.ReadFromReplicas && len(s.replicas) > 0 {
				r := s.replicas[int(s.rr.Add(1))%len(s.replicas)]
				if r.cl.pipes[0].up.Load() {
					return r
				}
			}
			return s.master
		}
	}
	return c.anyMaster()
}

// anyMaster picks a master round-robin, or a seed before the first map.
func (c *ClusterClient) anyMaster() *clusterNode {
	if m := c.masters.Load(); m != nil && len(*m) > 0 {
		return (*m)[int(c.rr.Add(1))%len(*m)]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.opts.Addrs {
		if n := c.nodes[a]; n != nil {
			return n
		}
	}
	for _, n := range c.nodes {
		return n
	}
	return nil
}

// NodeFor returns the address of the master serving key's hash slot as
// the client's map has it, or "" before the map is known.
func (c *ClusterClient) NodeFor(key string) string {
	if s := c.slots[hashSlot(key)].Load(); s != nil {
		return s.master.addr
	}
	return ""
}

// errClusterWait refuses WAIT and WAITAOF without a node: they wait for
// the writes of one connection, and a cluster spreads writes over many.
var errClusterWait = errors.New("redis: WAIT and WAITAOF have no key to route by in a cluster; send them with NodeClient(key) to the node of the writes")

// NodeClient returns the client of the master serving key's slot as the
// map has it now, or nil before the map is known. It is the client the
// ClusterClient itself sends that slot's commands through, so WAIT on it
// waits for them (with Node.Conns 1, for all of them); it is also the way
// to send a command to one node (SCAN, INFO, ...). It must not be closed.
func (c *ClusterClient) NodeClient(key string) *Client {
	if s := c.slots[hashSlot(key)].Load(); s != nil {
		return s.master.cl
	}
	return nil
}

// route checks a command and hands it to a clusterCall, which keeps a copy
// of the arguments for redirections (DoAsync's caller may reuse its slice
// at once; and a copy keeps the typed commands' slices on their stack).
func (c *ClusterClient) route(ctx context.Context, final replier, args []string) (node string, slot int, err error) {
	if len(args) == 0 {
		return "", -1, errNoCommand
	}
	switch classify(args) {
	case kindNormal, kindBlocking:
	case kindWait:
		return "", -1, errClusterWait
	default:
		return "", -1, ErrStateful
	}
	slot, ro, err := commandSlot(args)
	if err != nil {
		return "", -1, err
	}
	n := c.pick(slot, ro)
	if n == nil {
		return "", slot, ErrClosed
	}
	cc := getClusterCall()
	cc.c, cc.ctx, cc.final, cc.slot, cc.ro = c, ctx, final, slot, ro
	cc.args = append(cc.args[:0], args...)
	// From here cc belongs to the loop that answers it: it may be
	// recycled before send returns.
	if err := cc.send(n); err != nil {
		if err = cc.undelivered(err); err != nil {
			cc.recycle()
			return n.addr, slot, err
		}
	}
	return n.addr, slot, nil
}

// DoAsync sends a command to the node serving its keys and returns at
// once; cb receives the reply on an engine loop, after any redirections.
// Its contract is Client.DoAsync's; the errors may also be a
// *CrossSlotError (before anything is sent) or a *ClusterError.
func (c *ClusterClient) DoAsync(ctx context.Context, cb Callback, args ...string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var final replier = cb
	var a *asyncCall
	if ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		a = newAsyncCall(ctx, cb, c.home)
		final = a
	}
	if _, _, err := c.route(ctx, final, args); err != nil {
		if a != nil {
			a.stop()
		}
		return err
	}
	return nil
}

// call is the blocking API's core, as Client.call. When ctx ends first,
// the error is a *ClusterError of kind "timeout" naming the node the
// command was sent to, wrapping ctx's error.
func (c *ClusterClient) call(ctx context.Context, conv convFunc, args []string) (*waiter, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := getWaiter(conv)
	addr, slot, err := c.route(ctx, w, args)
	if err != nil {
		w.recycle()
		return nil, err
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		if n := w.node.Load(); n != nil {
			addr = n.addr
		}
		if w.state.CompareAndSwap(wWaiting, wAbandoned) {
			return nil, &ClusterError{Kind: "timeout", Node: addr, Slot: slot, Err: ctx.Err()}
		}
		<-w.done
	}
	if w.err != nil {
		err := w.err
		w.recycle()
		return nil, err
	}
	return w, nil
}

// Do sends a command to the node serving its keys and waits for its reply
// (see Client.Do and the type's documentation for the errors).
func (c *ClusterClient) Do(ctx context.Context, args ...string) (Reply, error) {
	w, err := c.call(ctx, convReply, args)
	if err != nil {
		return Reply{}, err
	}
	r := w.r
	w.recycle()
	return r, nil
}

// backoff returns the wait before retry n of an undeliverable command:
// from 10 ms doubling up to 320 ms, jittered over its upper half.
func clusterBackoff(n int) time.Duration {
	d := 10 * time.Millisecond << min(n, 5)
	return d/2 + rand.N(d/2+1)
}

// ClusterError reports a command that failed because of the cluster rather
// than its own reply: which node and slot, and what happened.
type ClusterError struct {
	// Kind says what happened: "moved" or "ask" (a redirection that could
	// not be followed), "redirects" (more than MaxRedirects of them),
	// "tryagain" (a multi-key command on a slot being migrated, until the
	// deadline), "down" (CLUSTERDOWN until the deadline), "conn" (the
	// node could not be reached, or the connection was lost with the
	// command in flight) or "timeout" (the caller's context ended first).
	Kind string
	// Node is the address of the node involved.
	Node string
	// Slot is the command's hash slot, -1 for a command without a key.
	Slot int
	// Err is the cause: the server's *resp.Error, a *ConnError, or the
	// context's error.
	Err error
}

// Error says what happened, where, and why.
func (e *ClusterError) Error() string {
	s := "redis cluster: " + e.Kind
	if e.Node != "" {
		s += " at " + e.Node
	}
	if e.Slot >= 0 {
		s += fmt.Sprintf(" (slot %d)", e.Slot)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *ClusterError) Unwrap() error { return e.Err }

// Timeout reports whether the cause was a timeout.
func (e *ClusterError) Timeout() bool {
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// redirection parses a MOVED or ASK error reply: "MOVED 3999 host:port".
func redirection(v *resp.Value) (kind string, slot int, addr string, ok bool) {
	if v == nil || (v.Type != resp.SimpleError && v.Type != resp.BlobError) {
		return "", 0, "", false
	}
	m := v.Str
	var rest []byte
	switch {
	case len(m) > 6 && string(m[:6]) == "MOVED ":
		kind, rest = "moved", m[6:]
	case len(m) > 4 && string(m[:4]) == "ASK ":
		kind, rest = "ask", m[4:]
	default:
		return "", 0, "", false
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		if slot = slot*10 + int(rest[i]-'0'); slot >= numSlots {
			return "", 0, "", false // and no overflow
		}
		i++
	}
	if i == 0 || i >= len(rest) || rest[i] != ' ' || slot >= numSlots {
		return "", 0, "", false
	}
	addr = string(rest[i+1:])
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return "", 0, "", false
	}
	return kind, slot, addr, true
}

// errorCode reports whether v is an error reply starting with code.
func errorCode(v *resp.Value, code string) bool {
	if v == nil || (v.Type != resp.SimpleError && v.Type != resp.BlobError) {
		return false
	}
	return len(v.Str) >= len(code) && string(v.Str[:len(code)]) == code &&
		(len(v.Str) == len(code) || v.Str[len(code)] == ' ')
}
