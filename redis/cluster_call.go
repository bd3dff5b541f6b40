package redis

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/resp"
)

// clusterCall carries one command through the cluster: it is the replier
// of the node it was sent to, and on a redirection or a failure to
// deliver it sends the command again, to the node named or after a
// back-off, before the caller's replier (final) sees anything. It runs on
// the loops of the nodes' connections, one at a time: a command is on at
// most one connection or timer at once.
type clusterCall struct {
	c      *ClusterClient
	ctx    context.Context
	final  replier
	args   []string // the command (Do, DoAsync)
	raw    []byte   // or the command encoded (a pipeline's)
	slot   int      // -1 without a key
	ro     bool     // read-only: may go to a replica
	node   *clusterNode
	hops   int // redirections followed
	skip   int // replies to drop before the command's own (ASKING's)
	budget retryBudget

	// A pipeline's command reports to its split batch instead.
	split *splitBatch
	idx   int
}

var clusterCalls = sync.Pool{New: func() any { return new(clusterCall) }}

func getClusterCall() *clusterCall { return clusterCalls.Get().(*clusterCall) }

func (cc *clusterCall) recycle() {
	if cc.split != nil {
		return // a pipeline's: not pooled
	}
	clear(cc.args)
	args := cc.args[:0]
	*cc = clusterCall{args: args}
	clusterCalls.Put(cc)
}

// send hands the command to node n.
func (cc *clusterCall) send(n *clusterNode) error {
	cc.at(n)
	if cc.raw != nil {
		return n.cl.pick().sendBatch(cc, 1, cc.raw)
	}
	return n.cl.route(cc.ctx, cc, cc.args)
}

// ask sends ASKING and the command to n with nothing between them, as an
// ASK redirection asks; ASKING's reply is dropped.
func (cc *clusterCall) ask(n *clusterNode) error {
	buf := resp.AppendCommand(nil, "ASKING")
	if cc.raw != nil {
		buf = append(buf, cc.raw...)
	} else {
		buf = resp.AppendCommand(buf, cc.args...)
	}
	cc.at(n)
	cc.skip = 1
	if err := n.cl.pick().sendBatch(cc, 2, buf); err != nil {
		cc.skip = 0
		return err
	}
	return nil
}

func (cc *clusterCall) reply(v *resp.Value, err error) {
	if cc.skip > 0 {
		cc.skip-- // ASKING's +OK, or its share of a connection failure
		return
	}
	if err != nil {
		if err = cc.handle(v, err); err == nil {
			return // sent again, or to be
		}
	}
	cc.finish(v, err)
}

// finish gives the outcome to the caller.
func (cc *clusterCall) finish(v *resp.Value, err error) {
	final, sb, i := cc.final, cc.split, cc.idx
	cc.recycle()
	if sb != nil {
		sb.put(i, v, err)
		return
	}
	final.reply(v, err)
}

// handle deals with an error reply or a failure: it returns nil when the
// command was sent again or will be, and otherwise the error for the
// caller.
func (cc *clusterCall) handle(v *resp.Value, err error) error {
	c := cc.c
	if v != nil {
		if kind, slot, addr, ok := redirection(v); ok {
			return cc.redirect(kind, slot, addr, err)
		}
		switch {
		case errorCode(v, "TRYAGAIN"):
			return cc.retryLater("tryagain", err)
		case errorCode(v, "CLUSTERDOWN"):
			c.requestRefresh()
			return cc.retryLater("down", err)
		}
		return err // the command's own error reply
	}
	var ce *ConnError
	if errors.As(err, &ce) {
		c.requestRefresh()
		if !ce.Sent {
			return cc.undelivered(err)
		}
		return &ClusterError{Kind: "conn", Node: cc.node.addr, Slot: cc.slot, Err: err}
	}
	if errors.Is(err, ErrClosed) {
		// Queued on a node the map dropped (its client was closed), or
		// at Close: undelivered tells them apart.
		return cc.undelivered(err)
	}
	return err
}

// redirect follows MOVED (the slot has a new owner: the map learns it at
// once) or ASK (this command only, during a migration).
func (cc *clusterCall) redirect(kind string, slot int, addr string, err error) error {
	c := cc.c
	if addr[0] == ':' {
		// A node that does not know its own address names ":port".
		if host, _, e := net.SplitHostPort(cc.node.addr); e == nil {
			addr = net.JoinHostPort(host, addr[1:])
		}
	}
	if kind == "moved" {
		c.noteMoved(slot, addr)
	}
	cc.hops++
	if cc.hops > c.opts.MaxRedirects {
		return &ClusterError{Kind: "redirects", Node: addr, Slot: cc.slot, Err: err}
	}
	if e := cc.ctx.Err(); e != nil {
		return &ClusterError{Kind: "timeout", Node: addr, Slot: cc.slot, Err: e}
	}
	n, nerr := c.node(addr)
	if nerr != nil {
		return &ClusterError{Kind: kind, Node: addr, Slot: cc.slot, Err: nerr}
	}
	var serr error
	if kind == "moved" {
		serr = cc.send(n)
	} else {
		if cc.args != nil && classify(cc.args) == kindBlocking {
			// ASKING must precede the command on its connection, and a
			// blocking command has a connection of its own.
			return &ClusterError{Kind: "ask", Node: addr, Slot: cc.slot, Err: err}
		}
		serr = cc.ask(n)
	}
	if serr == nil {
		return nil
	}
	return cc.undelivered(serr)
}

// undelivered decides about a command that did not reach a connection: a
// node that cannot be reached (in back-off, or closed because it left the
// map) is retried later, anything else is the caller's error.
func (cc *clusterCall) undelivered(err error) error {
	if cc.c.unreachable(err) {
		cc.c.requestRefresh()
		return cc.retryLater("conn", err)
	}
	return err
}

// unreachable reports whether err says a command never reached a node's
// connection: the node is in back-off, or its client was closed because
// it left the map (not because the ClusterClient was).
func (c *ClusterClient) unreachable(err error) bool {
	var ce *ConnError
	return errors.As(err, &ce) || (errors.Is(err, ErrClosed) && !c.isClosed())
}

// retryBudget spaces the retries of a command or transaction and ends
// them at its context's deadline or ClusterOptions.MaxRetryTime.
type retryBudget struct {
	until time.Time
	tries int
}

// next returns the back-off before the next try, or false when that try
// would come too late.
func (b *retryBudget) next(ctx context.Context, maxTime time.Duration) (time.Duration, bool) {
	now := time.Now()
	if b.until.IsZero() {
		b.until = now.Add(maxTime)
		if dl, ok := ctx.Deadline(); ok && dl.Before(b.until) {
			b.until = dl
		}
	}
	d := clusterBackoff(b.tries)
	b.tries++
	return d, ctx.Err() == nil && !now.Add(d).After(b.until)
}

// retryLater sends the command again after a back-off, within its budget;
// else it returns the *ClusterError for the caller.
func (cc *clusterCall) retryLater(kind string, err error) error {
	if d, ok := cc.budget.next(cc.ctx, cc.c.opts.MaxRetryTime); !ok || !cc.c.track(cc, d) {
		return &ClusterError{Kind: kind, Node: cc.node.addr, Slot: cc.slot, Err: err}
	}
	return nil
}

// retry runs on the home loop when the back-off has passed (and Close
// has not failed the command): the command goes to the slot's node as the
// map now has it.
func (cc *clusterCall) retry() {
	c := cc.c
	if err := cc.ctx.Err(); err != nil {
		cc.finish(nil, err)
		return
	}
	n := c.pick(cc.slot, cc.ro)
	if n == nil {
		cc.finish(nil, ErrClosed)
		return
	}
	if err := cc.send(n); err != nil {
		if err = cc.undelivered(err); err != nil {
			cc.finish(nil, err)
		}
	}
}

// retrier is a command or transaction waiting to be sent again.
type retrier interface {
	retry()          // on the home loop, when its back-off has passed, unless Close took it
	abort(err error) // at Close
}

func (cc *clusterCall) abort(err error) { cc.finish(nil, err) }

// track arms r's retry in d and records it for Close to fail; false once
// the client is closed. The timer is set under c.mu so that Close finds
// it. When it fires, it takes r out of the set (untrack, under the lock)
// before it touches r: a timer that has fired cannot be stopped, and if
// Close took r first it has failed r, which may be recycled already.
func (c *ClusterClient) track(r retrier, d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if c.retrying == nil {
		c.retrying = map[retrier]*engine.Timer{}
	}
	c.retrying[r] = c.home.AfterFunc(d, func() {
		if c.untrack(r) {
			r.retry()
		}
	})
	return true
}

// untrack takes r out of the retry set; false if Close took it.
func (c *ClusterClient) untrack(r retrier) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.retrying[r]; !ok {
		return false
	}
	delete(c.retrying, r)
	return true
}

// failRetrying ends what waits for a retry, at Close.
func (c *ClusterClient) failRetrying() {
	c.mu.Lock()
	waiting := c.retrying
	c.retrying = nil
	c.mu.Unlock()
	for r, t := range waiting {
		t.Stop()
		r.abort(ErrClosed)
	}
}

func (c *ClusterClient) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// noteMoved records what a MOVED reply said: slot is served by addr. The
// map is read again soon, for the other slots that moved with it.
func (c *ClusterClient) noteMoved(slot int, addr string) {
	c.mu.Lock()
	if n, err := c.redirectedLocked(addr); err == nil {
		s := c.byAddr[addr]
		if s == nil {
			s = &shard{master: n}
			c.byAddr[addr] = s
		}
		c.slots[slot].Store(s)
	}
	c.mu.Unlock()
	c.requestRefresh()
}

// at records the node the command is sent to; a blocking caller's waiter
// keeps it too, so that a timeout names the node it was waiting on.
func (cc *clusterCall) at(n *clusterNode) {
	cc.node = n
	if w, ok := cc.final.(*waiter); ok {
		w.node.Store(n)
	}
}
