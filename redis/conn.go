package redis

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/egress-go/egress/pool"
	"github.com/egress-go/egress/resp"
)

// Conn is a dedicated connection, checked out of the client's pool for
// one user: for WATCH and MULTI/EXEC, SELECT, blocking commands, or
// anything else that must not share a connection. Its commands are still
// pipelined (concurrent calls are written together and replies matched in
// order), but only its user's commands go on it. Close gives it back.
//
// A Conn does not reconnect: the state its user built on it (WATCH,
// SELECT, ...) would be lost with it. Once its connection is lost, the
// commands in flight fail with a *ConnError whose Sent is true, and every
// later one at once with a *ConnError (Sent false) wrapping the cause of
// the loss; the user should Close it and take a new one.
type Conn struct {
	cmds
	cl    *Client
	p     *pipe
	k     *link
	dirty atomic.Bool // a stateful command ran: do not reuse
}

func (c *Client) newConn() *Conn {
	p := newPipe(c, false, nil)
	d := &Conn{cl: c, p: p, k: newLink(p)}
	d.cmds.cn = d
	return d
}

// Conn checks out a dedicated connection, waiting for one (within ctx)
// when Options.MaxConns are in use. The caller must Close it.
func (c *Client) Conn(ctx context.Context) (*Conn, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !c.track.add() {
		return nil, ErrClosed
	}
	d := c.newConn()
	if err := d.open(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// open checks out a connection for d from the pool, waiting within ctx.
func (d *Conn) open(ctx context.Context) error {
	c := d.cl
	pc, err := c.pool.Request(ctx, c.key, d.k)
	if err != nil {
		d.k.finish()
		return &ConnError{Addr: c.opts.Addr, Err: err}
	}
	return d.connected(pc)
}

// connected attaches the pool's connection; on failure the connection and
// the queued commands are taken care of.
func (d *Conn) connected(pc *pool.Conn) error {
	p, k, c := d.p, d.k, d.cl
	p.mu.Lock()
	if k.closed {
		err := k.closeErr
		p.mu.Unlock()
		pc.Release(false)
		k.finish()
		p.dialFailed(err)
		return &ConnError{Addr: c.opts.Addr, Err: err}
	}
	k.pc, k.ec = pc, pc.Engine()
	p.mu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		d.abort(ErrClosed)
		p.attach(k) // sees the pipe closed and closes the connection
		return ErrClosed
	}
	c.dedicated[d] = struct{}{}
	c.mu.Unlock()
	if !p.attach(k) {
		c.forget(d)
		p.mu.Lock()
		lost, err := k.closed, k.closeErr
		p.mu.Unlock()
		if lost && !errors.Is(err, ErrClosed) {
			// Not closed by us but lost in the handover: say why, so that a
			// PubSub retries rather than takes it for a Close.
			return &ConnError{Addr: c.opts.Addr, Err: err}
		}
		return ErrClosed
	}
	return nil
}

func (c *Client) forget(d *Conn) {
	c.mu.Lock()
	delete(c.dedicated, d)
	c.mu.Unlock()
}

// call runs a blocking command on this connection.
func (d *Conn) call(ctx context.Context, conv convFunc, args []string) (*waiter, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := getWaiter(conv)
	if err := d.send(w, args); err != nil {
		w.recycle()
		return nil, err
	}
	if err := w.wait(ctx); err != nil {
		// The reply will still come and be discarded, but the connection
		// is no longer in a state its next user can rely on.
		d.dirty.Store(true)
		return nil, err
	}
	if w.err != nil {
		err := w.err
		w.recycle()
		return nil, err
	}
	return w, nil
}

func (d *Conn) send(r replier, args []string) error {
	if len(args) == 0 {
		return errNoCommand
	}
	switch kind := classify(args); kind {
	case kindPubSub, kindNoReply:
		return ErrStateful
	case kindStateful:
		d.dirty.Store(true)
	case kindBlocking, kindWait:
		return d.p.sendHeld(r, args, holdFor(kind, args))
	}
	return d.p.send(r, args)
}

// Do sends a command on this connection and waits for its reply, like
// Client.Do. Stateful commands (SELECT, WATCH, MULTI, ...) are allowed here;
// a connection that ran one is closed rather than reused after Close.
// Pub/sub commands are not: use Client.Subscribe.
func (d *Conn) Do(ctx context.Context, args ...string) (Reply, error) {
	w, err := d.call(ctx, convReply, args)
	if err != nil {
		return Reply{}, err
	}
	r := w.r
	w.recycle()
	return r, nil
}

// DoAsync is Client.DoAsync on this connection.
func (d *Conn) DoAsync(ctx context.Context, cb Callback, args ...string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if ctx.Done() == nil {
		return d.send(cb, args)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	a := newAsyncCall(ctx, cb, d.cl.pipes[0].home)
	if err := d.send(a, args); err != nil {
		a.stop()
		return err
	}
	return nil
}

// Close gives the connection back to the pool if it is clean (every reply
// read, no stateful command run, not abandoned by a context) and closes it
// otherwise. Commands still queued fail with ErrClosed. It is idempotent.
func (d *Conn) Close() error {
	p, k := d.p, d.k
	p.mu.Lock()
	if p.state == pClosed {
		p.lastErr = nil // lost before: closed now
		p.mu.Unlock()
		return nil
	}
	wasUp := p.state == pUp
	p.state = pClosed
	p.up.Store(false)
	q := p.takeQueueLocked()
	clean := wasUp && len(q) == 0 && !k.closed && k.pending.Load() == 0 && !d.dirty.Load() && k.sub == nil
	if clean {
		k.released = true
		p.cur = nil
	}
	pc, ec := k.pc, k.ec
	p.mu.Unlock()
	d.cl.forget(d)
	failAll(q, ErrClosed)
	if clean {
		k.detached.Store(true)
		pc.Release(true)
		k.finish()
		return nil
	}
	if ec != nil {
		ec.CloseWithError(ErrClosed)
	}
	return nil
}

// abort closes the connection with err as the reason: queued commands
// fail with a *ConnError (not sent), those in flight with one that says
// they were.
func (d *Conn) abort(err error) {
	p := d.p
	p.mu.Lock()
	if d.k.released {
		// Given back to the pool by Close (a blocking command's reply
		// came as its context ended, whose AfterFunc calls this): the
		// connection may serve another caller already.
		p.mu.Unlock()
		return
	}
	p.state = pClosed
	p.lastErr = nil
	p.up.Store(false)
	q := p.takeQueueLocked()
	ec := d.k.ec
	p.mu.Unlock()
	failAll(q, &ConnError{Addr: d.cl.opts.Addr, Err: err})
	if ec != nil {
		ec.CloseWithError(err)
	}
}

// sendDedicated runs a blocking command (BLPOP, XREAD BLOCK, ...) on a
// connection of its own, so that it holds up no one: a connection is
// checked out of the pool (an idle one is reused), the command is sent,
// and the connection goes back to the pool when the reply has come. If
// ctx ends first, the connection is closed (the server would otherwise
// keep it blocked) and the command fails with ctx's error.
func (c *Client) sendDedicated(ctx context.Context, r replier, args []string) error {
	if !c.track.add() {
		return ErrClosed
	}
	d := c.newConn()
	rel := &releaser{r: r, d: d}
	if err := d.p.sendHeld(rel, args, holdFor(kindBlocking, args)); err != nil { // queued until connected
		d.k.finish()
		return err
	}
	if ctx.Done() != nil {
		rel.stop = context.AfterFunc(ctx, func() { d.abort(ctx.Err()) })
	}
	c.pool.RequestAsync(ctx, c.key, d.k, func(pc *pool.Conn, err error) {
		if err != nil {
			if c.isClosed() {
				// Close ended the dial (its pool or engine went): the
				// command fails as one in flight does at Close.
				err = ErrClosed
			}
			d.k.finish()
			d.p.dialFailed(err)
			return
		}
		d.connected(pc)
	})
	return nil
}

// isClosed reports whether Close has been called.
func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// releaser passes a blocking command's reply on and gives its dedicated
// connection back.
type releaser struct {
	r    replier
	d    *Conn
	stop func() bool
}

func (x *releaser) reply(v *resp.Value, err error) {
	if x.stop != nil {
		x.stop()
	}
	// Back to the pool first, so that a caller who sends the next blocking
	// command as soon as it has this reply finds the connection idle. v
	// stays valid: it lives in this link's decoder, not the connection.
	x.d.Close()
	x.r.reply(v, err)
}
