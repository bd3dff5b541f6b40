package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/egress-go/egress/resp"
)

// pipeSpan is where one command of a cluster pipeline sits in its buffer,
// and the slot it goes to.
type pipeSpan struct {
	start, end int
	slot       int
	ro         bool
	key        string // the command's first argument, for a CrossSlotError
}

// Pipeline returns an empty pipeline on the cluster. Exec splits it by
// node: the commands for each node go out together, in their order, and
// the replies come back in the order the commands were added, whichever
// node answered first. Each command follows its own redirections. A
// command whose keys span slots makes Exec fail with a *CrossSlotError
// before anything is sent.
func (c *ClusterClient) Pipeline() *Pipeline { return &Pipeline{target: clusterTarget{c}} }

// TxPipeline returns an empty MULTI/EXEC pipeline on the cluster. All its
// keys must hash to one slot (use a {hash tag}); Exec fails with a
// *CrossSlotError otherwise. The transaction runs on that slot's master;
// if the slot moved, EXEC is aborted there and the whole transaction is
// sent again to the new owner.
func (c *ClusterClient) TxPipeline() *Pipeline {
	return &Pipeline{target: clusterTarget{c}, tx: true}
}

// clusterTarget marks a cluster's pipeline: Exec hands it to
// sendPipeline rather than to one connection.
type clusterTarget struct{ c *ClusterClient }

func (t clusterTarget) sendBatch(context.Context, replier, int, []byte) error {
	return errors.New("redis: cluster pipelines are sent by sendPipeline")
}
func (t clusterTarget) loopForCallbacks() loopPoster { return t.c.home }
func (t clusterTarget) dedicatedTarget() bool        { return false }

// sendPipeline sends a cluster pipeline whose replies b collects.
func (c *ClusterClient) sendPipeline(ctx context.Context, b *batch, buf []byte, spans []pipeSpan) error {
	if b.tx {
		return c.sendTx(ctx, b, buf, spans)
	}
	sb := &splitBatch{b: b}
	sb.left.Store(int32(len(spans)))
	type group struct {
		n   *clusterNode
		rs  []replier
		ccs []*clusterCall
		buf []byte
	}
	var groups []*group
	at := map[*clusterNode]*group{}
	for i, sp := range spans {
		n := c.pick(sp.slot, sp.ro)
		if n == nil {
			return ErrClosed
		}
		cc := &clusterCall{c: c, ctx: ctx, raw: buf[sp.start:sp.end], slot: sp.slot, ro: sp.ro, node: n, split: sb, idx: i}
		g := at[n]
		if g == nil {
			g = &group{n: n}
			at[n] = g
			groups = append(groups, g)
		}
		g.rs = append(g.rs, cc)
		g.ccs = append(g.ccs, cc)
		g.buf = append(g.buf, cc.raw...)
	}
	for _, g := range groups {
		if err := g.n.cl.pick().sendEach(g.rs, g.buf); err != nil {
			for _, cc := range g.ccs {
				if err := cc.undelivered(err); err != nil {
					cc.finish(nil, err)
				}
			}
		}
	}
	return nil
}

// splitBatch collects the replies of a pipeline split over nodes: they
// arrive on several loops at once, each into its own place.
type splitBatch struct {
	b    *batch
	left atomic.Int32
	mu   sync.Mutex // guards b.err
}

func (sb *splitBatch) put(i int, v *resp.Value, err error) {
	if v != nil {
		sb.b.replies[i] = Reply{v: v.Clone()}
	} else {
		sb.mu.Lock()
		if sb.b.err == nil {
			sb.b.err = err
		}
		sb.mu.Unlock()
	}
	if sb.left.Add(-1) == 0 {
		sb.b.complete()
	}
}

// sendTx sends a transaction to the master of its one slot.
func (c *ClusterClient) sendTx(ctx context.Context, b *batch, buf []byte, spans []pipeSpan) error {
	slot, first := -1, 0
	for i, sp := range spans {
		if sp.slot < 0 {
			continue
		}
		if slot < 0 {
			slot, first = sp.slot, i
			continue
		}
		if sp.slot != slot {
			return &CrossSlotError{Command: "MULTI",
				Keys:  [2]string{spans[first].key, sp.key},
				Slots: [2]int{slot, sp.slot}}
		}
	}
	n := c.pick(slot, false)
	if n == nil {
		return ErrClosed
	}
	t := &clusterTx{c: c, ctx: ctx, b: b, buf: buf, slot: slot}
	if err := t.send(n); err != nil {
		if err = t.undelivered(err); err != nil {
			return err
		}
	}
	return nil
}

// clusterTx carries a transaction through the cluster. It passes the
// replies to its batch, watching for what makes the whole transaction
// worth sending again, since then nothing of it ran: a slot that moved
// (its commands are refused with MOVED or ASK and EXEC aborts), or a
// connection that failed before the transaction was sent.
type clusterTx struct {
	c      *ClusterClient
	ctx    context.Context
	b      *batch
	buf    []byte
	slot   int
	node   *clusterNode
	seen   int    // replies seen of this attempt
	skip   int    // ASKING's reply, to drop
	moved  string // a queued command was refused with MOVED to this node
	asked  string // or with ASK
	lost   error  // the connection failed
	hops   int
	budget retryBudget
}

// reset starts an attempt at n: what the last one saw is forgotten.
func (t *clusterTx) reset(n *clusterNode) {
	t.node, t.seen, t.moved, t.asked, t.lost = n, 0, "", "", nil
	t.b.got, t.b.err = 0, nil
	clear(t.b.replies)
}

// send sends the transaction to n.
func (t *clusterTx) send(n *clusterNode) error {
	t.reset(n)
	return n.cl.pick().sendBatch(t, t.b.expect, t.buf)
}

// sendAsking sends it to n after ASKING, whose reply is dropped.
func (t *clusterTx) sendAsking(n *clusterNode) error {
	t.reset(n)
	t.skip = 1
	buf := append(resp.AppendCommand(nil, "ASKING"), t.buf...)
	if err := n.cl.pick().sendBatch(t, t.b.expect+1, buf); err != nil {
		t.skip = 0
		return err
	}
	return nil
}

func (t *clusterTx) reply(v *resp.Value, err error) {
	if t.skip > 0 {
		t.skip--
		return
	}
	i := t.seen
	t.seen++
	switch {
	case v == nil:
		if t.lost == nil {
			t.lost = err
		}
	case i >= 1 && i <= t.b.n:
		if kind, _, addr, ok := redirection(v); ok {
			if kind == "moved" {
				t.moved = addr
			} else {
				t.asked = addr
			}
		}
	}
	if i == t.b.expect-1 && t.again(v) {
		return
	}
	t.b.reply(v, err)
}

// again decides, at the transaction's last reply, whether to send it once
// more; it reports true if it was sent or will be.
func (t *clusterTx) again(last *resp.Value) bool {
	c := t.c
	if t.lost != nil {
		c.requestRefresh()
		var ce *ConnError
		if errors.As(t.lost, &ce) && !ce.Sent {
			if t.retryLater() {
				return true
			}
		}
		t.b.err = &ClusterError{Kind: "conn", Node: t.node.addr, Slot: t.slot, Err: t.lost}
		return false
	}
	if last == nil || !errorCode(last, "EXECABORT") || (t.moved == "" && t.asked == "") {
		return false
	}
	t.hops++
	if t.hops > c.opts.MaxRedirects || t.ctx.Err() != nil {
		return false // the abort stands
	}
	var err error
	if t.moved != "" {
		if t.slot >= 0 {
			c.noteMoved(t.slot, t.moved)
		}
		var n *clusterNode
		if n, err = c.node(t.moved); err == nil {
			err = t.send(n)
		}
	} else {
		var n *clusterNode
		if n, err = c.node(t.asked); err == nil {
			err = t.sendAsking(n)
		}
	}
	if err == nil {
		return true
	}
	if err = t.undelivered(err); err == nil {
		return true
	}
	t.b.got, t.b.err = t.b.expect-1, err
	return false
}

// undelivered retries a transaction that did not reach a connection, as
// clusterCall.undelivered does a command.
func (t *clusterTx) undelivered(err error) error {
	if t.c.unreachable(err) {
		t.c.requestRefresh()
		if t.retryLater() {
			return nil
		}
		return &ClusterError{Kind: "conn", Node: t.node.addr, Slot: t.slot, Err: err}
	}
	return err
}

// retryLater sends the transaction again after a back-off, within its
// budget; false if that is over.
func (t *clusterTx) retryLater() bool {
	d, ok := t.budget.next(t.ctx, t.c.opts.MaxRetryTime)
	return ok && t.c.track(t, d)
}

func (t *clusterTx) retry() {
	if err := t.ctx.Err(); err != nil {
		t.abort(err)
		return
	}
	n := t.c.pick(t.slot, false)
	if n == nil {
		t.abort(ErrClosed)
		return
	}
	if err := t.send(n); err != nil {
		if err = t.undelivered(err); err != nil {
			t.abort(err)
		}
	}
}

// abort ends the transaction with err (at Close, or when a retry cannot
// be made).
func (t *clusterTx) abort(err error) {
	t.b.got, t.b.err = t.b.expect, err
	t.b.complete()
}
