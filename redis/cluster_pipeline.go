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
	name       string
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
		cc.retryFn = cc.retry
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
				Keys:  [2]string{spans[first].name + " ...", sp.name + " ..."},
				Slots: [2]int{slot, sp.slot}}
		}
	}
	n := c.pick(slot, false)
	if n == nil {
		return ErrClosed
	}
	t := &clusterTx{c: c, ctx: ctx, b: b, buf: buf, slot: slot, node: n}
	return n.cl.pick().sendBatch(t, b.expect, buf)
}

// clusterTx passes a transaction's replies to its batch, watching for a
// slot that moved: its commands are refused with MOVED and EXEC aborts,
// so nothing ran, and the whole transaction can go to the new owner.
type clusterTx struct {
	c     *ClusterClient
	ctx   context.Context
	b     *batch
	buf   []byte
	slot  int
	node  *clusterNode
	seen  int
	moved string
	hops  int
}

func (t *clusterTx) reply(v *resp.Value, err error) {
	i := t.seen
	t.seen++
	if v != nil && i >= 1 && i <= t.b.n {
		if kind, _, addr, ok := redirection(v); ok && kind == "moved" {
			t.moved = addr
		}
	}
	if i == t.b.expect-1 && t.moved != "" && v != nil && errorCode(v, "EXECABORT") {
		if t.resend() {
			return
		}
	}
	t.b.reply(v, err)
}

// resend sends the transaction to the node its slot moved to, with the
// batch emptied of the aborted attempt's replies. It reports false when
// it cannot (too many hops, context over, node unreachable): the abort
// then stands.
func (t *clusterTx) resend() bool {
	t.hops++
	if t.hops > t.c.opts.MaxRedirects || t.ctx.Err() != nil {
		return false
	}
	if t.slot >= 0 {
		t.c.noteMoved(t.slot, t.moved)
	}
	n, err := t.c.node(t.moved)
	if err != nil {
		return false
	}
	t.b.got, t.b.err = 0, nil
	clear(t.b.replies)
	t.seen, t.moved, t.node = 0, "", n
	if err := n.cl.pick().sendBatch(t, t.b.expect, t.buf); err != nil {
		t.b.err = &ClusterError{Kind: "moved", Node: n.addr, Slot: t.slot, Err: err}
		t.b.got = t.b.expect - 1
		return false
	}
	return true
}
