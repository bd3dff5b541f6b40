package redis

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/resp"
)

// Pipeline collects commands and sends them together, in order, with
// nothing from other callers between them, and returns their replies in
// the same order. Build one with Client.Pipeline or Conn.Pipeline (or the
// TxPipeline variants for MULTI/EXEC), add commands with Do, then Exec.
// A Pipeline is not safe for concurrent use; after Exec it is empty and
// may be reused.
type Pipeline struct {
	target batchSender
	tx     bool
	buf    []byte
	n      int
	err    error         // the first command refused by Do
	spans  []pipeSpan    // on a ClusterClient: where each command is in buf
	hold   time.Duration // the longest wait of a WAIT or blocking command in it (see pipe.sendHeld)
}

// batchSender is where a pipeline's commands go: a Client's shared pipe
// or a Conn's.
type batchSender interface {
	sendBatch(ctx context.Context, r replier, n int, b []byte) error
	loopForCallbacks() loopPoster
	dedicatedTarget() bool
}

type loopPoster interface{ Post(func()) bool }

// Pipeline returns an empty pipeline on the client's shared connections.
// Blocking and stateful commands are refused in it (Exec returns
// ErrStateful); use a Conn's pipeline for those.
func (c *Client) Pipeline() *Pipeline { return &Pipeline{target: clientTarget{c}} }

// TxPipeline returns an empty pipeline whose commands Exec wraps in
// MULTI/EXEC: they run atomically, and their replies are EXEC's. On the
// shared connections this is safe because the whole transaction is
// written in one piece; WATCH needs a Conn (see Conn.TxPipeline).
func (c *Client) TxPipeline() *Pipeline { return &Pipeline{target: clientTarget{c}, tx: true} }

// Pipeline returns an empty pipeline on this connection; any command but
// pub/sub may be in it.
func (d *Conn) Pipeline() *Pipeline { return &Pipeline{target: connTarget{d}} }

// TxPipeline returns a MULTI/EXEC pipeline on this connection. After
// WATCH on the same connection, Exec returns ErrTxAborted if a watched key
// changed.
func (d *Conn) TxPipeline() *Pipeline { return &Pipeline{target: connTarget{d}, tx: true} }

// Do adds a command. Errors (an empty or refused command) are reported by
// Exec.
func (p *Pipeline) Do(args ...string) {
	if p.err != nil {
		return
	}
	if len(args) == 0 {
		p.err = errNoCommand
		return
	}
	switch kind := classify(args); kind {
	case kindNormal:
	case kindWait:
		if _, ok := p.target.(clusterTarget); ok {
			p.err = errClusterWait
			return
		}
		if err := checkWait(args); err != nil && !p.target.dedicatedTarget() {
			p.err = err
			return
		}
		p.hold = max(p.hold, holdFor(kindWait, args))
	case kindBlocking, kindStateful:
		if !p.target.dedicatedTarget() || (p.tx && isTxControl(args[0])) {
			p.err = ErrStateful
			return
		}
		if ct, ok := p.target.(connTarget); ok && !p.tx {
			ct.d.dirty.Store(true)
		}
		if kind == kindBlocking {
			p.hold = max(p.hold, holdFor(kind, args))
		}
	default:
		p.err = ErrStateful
		return
	}
	if p.n == 0 && p.tx {
		p.buf = resp.AppendCommand(p.buf, "MULTI")
	}
	start := len(p.buf)
	p.buf = resp.AppendCommand(p.buf, args...)
	p.n++
	if _, ok := p.target.(clusterTarget); ok {
		slot, ro, err := commandSlot(args)
		if err != nil {
			p.err = err
			return
		}
		key := ""
		if len(args) > 1 {
			key = args[1]
		}
		p.spans = append(p.spans, pipeSpan{start: start, end: len(p.buf), slot: slot, ro: ro, key: key})
	}
}

func isTxControl(name string) bool {
	switch classify([]string{name}) {
	case kindStateful:
		for _, s := range []string{"MULTI", "EXEC", "DISCARD", "WATCH"} {
			if len(s) == len(name) && equalFold(s, name) {
				return true
			}
		}
	}
	return false
}

func equalFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Len returns the number of commands added.
func (p *Pipeline) Len() int { return p.n }

// Exec sends the commands and waits for all their replies, or for ctx to
// end. The result has one Reply per command; a command that the server
// refused has a Reply whose Err is set, and the others are unaffected. The
// error is for the pipeline as a whole: ctx's, a *ConnError, ErrStateful,
// or for a transaction ErrTxAborted or the server's EXECABORT error.
func (p *Pipeline) Exec(ctx context.Context) ([]Reply, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	done := make(chan struct{}, 1)
	var out []Reply
	var outErr error
	err := p.ExecAsync(ctx, func(r []Reply, err error) {
		out, outErr = r, err
		done <- struct{}{}
	})
	if err != nil {
		return nil, err
	}
	<-done // ExecAsync's callback comes at ctx's end at the latest
	return out, outErr
}

// ExecAsync is Exec without blocking: cb receives the replies on an engine
// loop, or ctx's error as soon as ctx ends. If ExecAsync returns an error,
// cb is not called.
func (p *Pipeline) ExecAsync(ctx context.Context, cb func([]Reply, error)) error {
	if ctx == nil {
		ctx = context.Background()
	}
	err := p.err
	n, buf, tx, spans, hold := p.n, p.buf, p.tx, p.spans, p.hold
	p.n, p.buf, p.err, p.spans, p.hold = 0, nil, nil, nil, 0
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if n == 0 {
		return errNoCommand
	}
	expect := n
	if tx {
		buf = resp.AppendCommand(buf, "EXEC")
		expect += 2
	}
	b := &batch{n: n, expect: expect, tx: tx, cb: cb, replies: make([]Reply, n)}
	if ctx.Done() != nil {
		l := p.target.loopForCallbacks()
		b.stop = context.AfterFunc(ctx, func() {
			if b.finished.CompareAndSwap(false, true) {
				f := func() { cb(nil, ctx.Err()) }
				if !l.Post(f) {
					f()
				}
			}
		})
	}
	if ct, ok := p.target.(clusterTarget); ok {
		err = ct.c.sendPipeline(ctx, b, buf, spans)
	} else if ct, ok := p.target.(clientTarget); ok && hold > 0 {
		err = ct.c.pick().sendBatchHold(b, expect, buf, hold)
	} else if ct, ok := p.target.(connTarget); ok && hold > 0 {
		err = ct.d.p.sendBatchHold(b, expect, buf, hold)
	} else {
		err = p.target.sendBatch(ctx, b, expect, buf)
	}
	if err != nil {
		if b.stop != nil {
			b.stop()
		}
		return err
	}
	return nil
}

// batch collects the replies of a pipeline: it is queued once per reply
// expected.
type batch struct {
	n, expect, got int
	tx             bool
	replies        []Reply
	err            error // a failure of the whole batch
	cb             func([]Reply, error)
	stop           func() bool
	finished       atomic.Bool
}

func (b *batch) reply(v *resp.Value, err error) {
	i := b.got
	b.got++
	switch {
	case v == nil:
		if b.err == nil {
			b.err = err
		}
	case !b.tx:
		b.replies[i] = Reply{v: v.Clone()}
	case i == 0: // MULTI
		if err != nil && b.err == nil {
			b.err = err
		}
	case i <= b.n: // +QUEUED, or the error that will make EXEC abort
		if err != nil {
			b.replies[i-1] = Reply{v: v.Clone()}
		}
	default: // EXEC
		b.exec(v, err)
	}
	if b.got < b.expect {
		return
	}
	b.complete()
}

// complete hands the replies, or the batch's error, to the callback,
// unless the context ended first.
func (b *batch) complete() {
	if b.stop != nil {
		b.stop()
	}
	if !b.finished.CompareAndSwap(false, true) {
		return // ctx ended first
	}
	if b.err != nil {
		b.cb(nil, b.err)
		return
	}
	b.cb(b.replies, nil)
}

// exec reads EXEC's reply: the replies of the queued commands, a null
// (WATCH saw a change), or EXECABORT.
func (b *batch) exec(v *resp.Value, err error) {
	if b.err != nil {
		return
	}
	switch {
	case err != nil:
		b.err = err
	case v.IsNull():
		b.err = ErrTxAborted
	case v.Type != resp.Array || len(v.Elems) != b.n:
		b.err = &TypeError{Want: "EXEC array", Got: v.String()}
	default:
		for i := range v.Elems {
			b.replies[i] = Reply{v: v.Elems[i].Clone()}
		}
	}
}

type clientTarget struct{ c *Client }

func (t clientTarget) sendBatch(_ context.Context, r replier, n int, b []byte) error {
	return t.c.pick().sendBatch(r, n, b)
}
func (t clientTarget) loopForCallbacks() loopPoster { return t.c.pipes[0].home }
func (t clientTarget) dedicatedTarget() bool        { return false }

type connTarget struct{ d *Conn }

func (t connTarget) sendBatch(_ context.Context, r replier, n int, b []byte) error {
	return t.d.p.sendBatch(r, n, b)
}
func (t connTarget) loopForCallbacks() loopPoster { return t.d.cl.pipes[0].home }
func (t connTarget) dedicatedTarget() bool        { return true }
