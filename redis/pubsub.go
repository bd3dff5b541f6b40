package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/pool"
	"github.com/egress-go/egress/resp"
)

// Message is a message received on a subscription, or the notice of a gap
// in them.
type Message struct {
	// Kind is "message" (SUBSCRIBE), "pmessage" (PSUBSCRIBE) or
	// "smessage" (SSUBSCRIBE); or "reconnected" when the connection was
	// lost and every subscription has been restored on a new one:
	// messages published in between were lost (see PubSub).
	Kind    string
	Channel string
	// Pattern is the pattern that matched, for a pmessage.
	Pattern string
	// Payload is the message; for "reconnected", why the previous
	// connection was lost, for logs.
	Payload string
}

// Flow control of a PubSub read with Receive: past highWater messages
// waiting, the connection stops reading (the server buffers, then applies
// its client-output-buffer-limit); below lowWater it reads again.
const (
	highWater = 4096
	lowWater  = 1024
)

// PubSub is a subscription on a dedicated connection: RESP3 push messages
// or RESP2 arrays, the same to the user. Messages go to the handler given
// to NewPubSub, on the connection's loop, or else to a queue read by
// Receive, with back-pressure: when the reader falls behind, the
// connection stops reading from the socket.
//
// # Reconnection
//
// When its connection is lost (the server restarted, a proxy or CLIENT
// KILL cut it, the network failed), a PubSub dials a new one at once and
// then, while that fails, with the client's back-off
// (Options.MinRetryBackoff doubling up to MaxRetryBackoff). On the new
// connection it subscribes again to every channel, pattern and shard
// channel the server had confirmed, then sends the (un)subscriptions
// asked for meanwhile or cut off by the loss. Messages keep going to the
// same handler or Receive queue. While it is disconnected, the PubSub
// holds no goroutine: only a timer on an engine loop.
//
// Pub/sub promises no delivery: messages published while the PubSub was
// disconnected are lost. When the subscriptions are restored, the PubSub
// delivers a Message of Kind "reconnected", in order with the others:
// what was published before it may be missing, what is published after it
// arrives. A cache that pub/sub keeps fresh, say, should be flushed then.
// No such message is delivered if there was nothing to restore.
//
// Meanwhile Subscribe and the others wait for the new connection, within
// their context; Ping waits while a dial is in progress and fails at once
// with a *ConnError during the back-off; Receive waits for messages as
// usual. Close stops the reconnection at once.
//
// Some failures are not retried and end the PubSub; its methods then
// return the reason (Receive once it has returned the messages queued
// before): ErrClosed after Close or Client.Close; a *ConnError wrapping
// the server's *resp.Error when the server refuses the new connection's
// handshake (AUTH with credentials no longer valid, SELECT of a database
// that no longer exists; LOADING, BUSY, MASTERDOWN and TRYAGAIN are
// retried); an error wrapping the server's *resp.Error when it refuses a
// resubscription (an ACL that no longer allows the channel, say).
type PubSub struct {
	cl      *Client
	onMsg   func(Message)
	notify  chan struct{}
	retryFn func() // ps.retry, bound once for the back-off timer

	mu        sync.Mutex
	state     psState
	d         *Conn // open, or being opened in psDialing; nil in psBackoff and psClosed
	err       error // why it ended, in psClosed
	cause     error // why the last restored connection was lost
	lastErr   error // why the last attempt failed, in psBackoff
	attempts  int   // attempts failed in a row
	timer     *engine.Timer
	cancel    context.CancelFunc // aborts the dial in progress
	waiting   []*psOp            // commands for the next connection
	seq       uint64             // orders the commands in waiting
	restoring int                // resubscriptions not yet confirmed, in psRestoring
	queue     []Message
	head      int
	paused    *engine.Conn               // the connection whose reads deliver paused
	subs      map[string]map[string]bool // confirmed, by kind: "subscribe", "psubscribe", "ssubscribe"

	// dropped, when set (by a ClusterPubSub), is told on the loop of a
	// shard channel the server unsubscribed by itself: its slot moved.
	dropped func(channel string)
}

type psState uint8

const (
	psDialing   psState = iota // d is being opened; commands wait
	psRestoring                // d is open; its resubscriptions are not all confirmed
	psUp                       // d is open with every subscription
	psBackoff                  // the last attempt failed; the timer dials again
	psClosed                   // ended: err says why
)

// subKinds are the kinds of subscriptions, as the server names their
// confirmations, in the order they are restored.
var subKinds = [...]string{"subscribe", "psubscribe", "ssubscribe"}

// NewPubSub opens a dedicated connection for subscriptions. onMessage, if
// not nil, receives every message on the connection's loop and must not
// block; otherwise messages are read with Receive. If the first connection
// cannot be opened, NewPubSub fails; later losses are recovered from (see
// PubSub).
func (c *Client) NewPubSub(ctx context.Context, onMessage func(Message)) (*PubSub, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ps := &PubSub{cl: c, onMsg: onMessage, notify: make(chan struct{}, 1), subs: map[string]map[string]bool{}}
	ps.retryFn = ps.retry
	d, ok := ps.newConn()
	if !ok {
		return nil, ErrClosed
	}
	// Set before the connection exists, so that its loss, however early,
	// finds it current; and before Client.Close can see ps.
	ps.state, ps.d = psDialing, d
	if !c.register(ps) {
		d.k.finish()
		return nil, ErrClosed
	}
	err := d.open(ctx)
	ps.mu.Lock()
	if err == nil && ps.state == psClosed {
		err = ps.err // Client.Close meanwhile
	}
	if err != nil {
		end := ps.shutdownLocked(err)
		ps.mu.Unlock()
		end()
		return nil, err
	}
	if ps.state == psDialing && ps.d == d {
		ps.state = psUp
	} // else lost already, and reconnecting: still a good PubSub
	ps.mu.Unlock()
	return ps, nil
}

// Subscribe returns a PubSub subscribed to channels, read with Receive.
func (c *Client) Subscribe(ctx context.Context, channels ...string) (*PubSub, error) {
	ps, err := c.NewPubSub(ctx, nil)
	if err != nil {
		return nil, err
	}
	if err := ps.Subscribe(ctx, channels...); err != nil {
		ps.Close()
		return nil, err
	}
	return ps, nil
}

// Subscribe subscribes to channels and waits for the server to confirm.
func (ps *PubSub) Subscribe(ctx context.Context, channels ...string) error {
	return ps.op(ctx, "subscribe", "SUBSCRIBE", channels)
}

// PSubscribe subscribes to channel patterns (such as "news.*").
func (ps *PubSub) PSubscribe(ctx context.Context, patterns ...string) error {
	return ps.op(ctx, "psubscribe", "PSUBSCRIBE", patterns)
}

// SSubscribe subscribes to shard channels (Redis 7 sharded pub/sub; in a
// cluster, all in the same hash slot).
func (ps *PubSub) SSubscribe(ctx context.Context, channels ...string) error {
	return ps.op(ctx, "ssubscribe", "SSUBSCRIBE", channels)
}

// Unsubscribe unsubscribes from channels, or from all with none given.
func (ps *PubSub) Unsubscribe(ctx context.Context, channels ...string) error {
	return ps.op(ctx, "unsubscribe", "UNSUBSCRIBE", channels)
}

// PUnsubscribe unsubscribes from patterns, or from all with none given.
func (ps *PubSub) PUnsubscribe(ctx context.Context, patterns ...string) error {
	return ps.op(ctx, "punsubscribe", "PUNSUBSCRIBE", patterns)
}

// SUnsubscribe unsubscribes from shard channels, or from all with none
// given.
func (ps *PubSub) SUnsubscribe(ctx context.Context, channels ...string) error {
	return ps.op(ctx, "sunsubscribe", "SUNSUBSCRIBE", channels)
}

// ended reports whether the PubSub has ended (Close, or a failure it does
// not recover from).
func (ps *PubSub) ended() bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.state == psClosed
}

// connected reports whether the subscription connection is open with
// every subscription restored.
func (ps *PubSub) connected() bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.state == psUp
}

// Channels returns the channels and patterns the server has confirmed.
// While the PubSub reconnects, they are those it will restore.
func (ps *PubSub) Channels() (channels, patterns []string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for ch := range ps.subs["subscribe"] {
		channels = append(channels, ch)
	}
	for p := range ps.subs["psubscribe"] {
		patterns = append(patterns, p)
	}
	return channels, patterns
}

// op runs a (un)subscription: at once on an open connection, or on the
// next one while the PubSub reconnects. It returns when the server has
// confirmed every name, or ctx ends.
func (ps *PubSub) op(ctx context.Context, kind, cmd string, names []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if len(names) == 0 && (kind == "subscribe" || kind == "psubscribe" || kind == "ssubscribe") {
		return errNoCommand
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// If ctx ends before the command is sent, it will not be; if after,
	// the confirmations are still counted (and Channels shows them).
	return ps.run(ctx, &psOp{ps: ps, ctx: ctx, kind: kind, cmd: cmd, names: names, done: make(chan error, 1)})
}

// run starts o and waits for its result or the end of ctx.
func (ps *PubSub) run(ctx context.Context, o *psOp) error {
	if err := ps.start(o); err != nil {
		return err
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ping checks the subscription connection. While the PubSub reconnects it
// waits for the new connection, within ctx, or fails at once with a
// *ConnError during the back-off between attempts.
func (ps *PubSub) Ping(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return ps.run(ctx, &psOp{ps: ps, ctx: ctx, cmd: "PING", done: make(chan error, 1)})
}

// start sends o on the open connection or queues it for the next one.
func (ps *PubSub) start(o *psOp) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.seq++
	o.seq = ps.seq
	switch ps.state {
	case psClosed:
		return ps.err
	case psBackoff:
		if o.kind == "" {
			return &ConnError{Addr: ps.cl.opts.Addr, Err: ps.lastErr}
		}
	case psUp, psRestoring:
		err := ps.sendLocked(ps.d, o)
		if !connGone(err) {
			return err
		}
		// The connection has just been lost; its OnClose, still to come,
		// starts the reconnection, and o goes on the next connection.
	}
	// Callers that gave up are dropped here too, so that a long outage
	// with calls that time out does not pile them up.
	ps.waiting = slices.DeleteFunc(ps.waiting, func(o *psOp) bool { return o.ctx.Err() != nil })
	ps.waiting = append(ps.waiting, o)
	return nil
}

// connGone reports whether sending on a PubSub's connection failed
// because the connection is gone (ErrClosed, or the *ConnError of a
// connection lost), which the PubSub recovers from, rather than for a
// reason of the command's own.
func connGone(err error) bool {
	var ce *ConnError
	return errors.Is(err, ErrClosed) || errors.As(err, &ce)
}

// sendLocked queues o on d.
func (ps *PubSub) sendLocked(d *Conn, o *psOp) error {
	// Unsubscribing from all (no names) is confirmed once per
	// subscription the server has when it runs the command, which is
	// known only when its first confirmation arrives (see event): the
	// commands ahead of it may change the set.
	o.got, o.want = 0, len(o.names)
	return d.p.send(o, prepend(o.names, o.cmd))
}

// Receive returns the next message, waiting for one until ctx ends. It
// returns "reconnected" notices too (see PubSub). Once the PubSub has
// ended it returns the reason: ErrClosed after Close or Client.Close; else
// the error that could not be recovered from, once the messages queued
// before it are read.
func (ps *PubSub) Receive(ctx context.Context) (Message, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	for {
		ps.mu.Lock()
		if ps.head < len(ps.queue) {
			m := ps.queue[ps.head]
			ps.queue[ps.head] = Message{}
			ps.head++
			if ps.head == len(ps.queue) {
				ps.queue, ps.head = ps.queue[:0], 0
			}
			if ps.paused != nil && len(ps.queue)-ps.head <= lowWater {
				ps.paused.ResumeRead()
				ps.paused = nil
			}
			ps.mu.Unlock()
			return m, nil
		}
		err := ps.err
		ps.mu.Unlock()
		if err != nil {
			return Message{}, err
		}
		select {
		case <-ps.notify:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// Close closes the subscription's connection and stops any reconnection.
// Commands waiting fail, messages not yet received are dropped, and
// Receive then returns ErrClosed. It is idempotent.
func (ps *PubSub) Close() error {
	ps.shutdown(ErrClosed)
	return nil
}

func (ps *PubSub) shutdown(err error) {
	ps.mu.Lock()
	end := ps.shutdownLocked(err)
	ps.mu.Unlock()
	end()
}

// shutdownLocked ends the PubSub with err. The returned function closes
// what it held, after ps.mu is released: the connection's queued commands
// call back into ps when they fail.
func (ps *PubSub) shutdownLocked(err error) func() {
	if ps.state == psClosed {
		return func() {}
	}
	ps.state, ps.err = psClosed, err
	d, t, cancel, w := ps.d, ps.timer, ps.cancel, ps.waiting
	ps.d, ps.cancel, ps.waiting = nil, nil, nil
	if err == ErrClosed {
		// Closed by its user, who wants no more messages; other endings
		// leave the queue to be read.
		clear(ps.queue)
		ps.queue, ps.head, ps.paused = nil, 0, nil
	}
	for _, o := range w {
		o.done <- err
	}
	return func() {
		if t != nil {
			t.Stop()
		}
		if cancel != nil {
			cancel()
		}
		if d != nil {
			d.Close()
		}
		ps.cl.unregister(ps)
		ps.wake()
	}
}

func (ps *PubSub) wake() {
	select {
	case ps.notify <- struct{}{}:
	default:
	}
}

// newConn makes a connection for ps, not yet opened.
func (ps *PubSub) newConn() (*Conn, bool) {
	if !ps.cl.track.add() {
		return nil, false
	}
	d := ps.cl.newConn()
	d.dirty.Store(true) // never back to the pool
	d.k.sub = ps
	return d, true
}

// dialLocked starts the next attempt (the state becomes psDialing); the
// returned function, called without ps.mu, asks the pool.
func (ps *PubSub) dialLocked() func() {
	d, ok := ps.newConn()
	if !ok {
		return ps.shutdownLocked(ErrClosed)
	}
	c := ps.cl
	// The client's context, so that its Close aborts the dial too.
	ctx, cancel := context.WithCancel(c.ctx)
	ps.state, ps.d, ps.cancel = psDialing, d, cancel
	return func() {
		c.pool.RequestAsync(ctx, c.key, d.k, func(pc *pool.Conn, err error) {
			cancel()
			ps.dialed(d, pc, err)
		})
	}
}

// dialed receives the pool's answer for d.
func (ps *PubSub) dialed(d *Conn, pc *pool.Conn, err error) {
	if err != nil {
		d.k.finish()
		d.p.dialFailed(err)
		ps.failed(d, err)
		return
	}
	if err := d.connected(pc); err != nil {
		ps.failed(d, err)
		return
	}
	ps.attached(d)
}

// failed handles an attempt that did not give a connection.
func (ps *PubSub) failed(d *Conn, err error) {
	ps.mu.Lock()
	if ps.d != d {
		// Closed meanwhile, or its loss was already seen through lost.
		ps.mu.Unlock()
		return
	}
	ps.d, ps.cancel = nil, nil
	next := ps.retryLocked(err, false)
	ps.mu.Unlock()
	next()
}

// attached makes the new connection d current: the subscriptions are
// restored first, then the commands that waited go out, in order.
func (ps *PubSub) attached(d *Conn) {
	ps.mu.Lock()
	if ps.d != d || ps.state != psDialing {
		ps.mu.Unlock()
		d.Close()
		return
	}
	var restore []*psOp
	for _, kind := range subKinds {
		if set := ps.subs[kind]; len(set) > 0 {
			names := make([]string, 0, len(set))
			for name := range set {
				names = append(names, name)
			}
			groups := [][]string{names}
			if kind == "ssubscribe" {
				// A cluster node refuses shard channels of several
				// slots in one SSUBSCRIBE (CROSSSLOT).
				groups = bySlot(names)
			}
			for _, g := range groups {
				restore = append(restore, &psOp{ps: ps, kind: kind, cmd: strings.ToUpper(kind), names: g, restore: true})
			}
		}
	}
	ps.restoring = len(restore)
	if len(restore) > 0 {
		ps.state = psRestoring
	} else {
		ps.state, ps.attempts, ps.cause = psUp, 0, nil
	}
	for _, o := range restore {
		if err := ps.sendLocked(d, o); err != nil {
			if connGone(err) {
				break // lost already: lost redials
			}
			end := ps.shutdownLocked(fmt.Errorf("redis: resubscribing after a reconnection: %w", err))
			ps.mu.Unlock()
			end()
			return
		}
	}
	w := ps.waiting
	ps.waiting = nil
	slices.SortFunc(w, func(a, b *psOp) int { return cmp.Compare(a.seq, b.seq) })
	for i, o := range w {
		if o.ctx.Err() != nil {
			continue // its caller has given up
		}
		if err := ps.sendLocked(d, o); err != nil {
			if connGone(err) {
				ps.waiting = append(ps.waiting, w[i:]...)
				break
			}
			o.done <- err
		}
	}
	ps.mu.Unlock()
}

// lost is called by k's OnClose, on its loop, after the commands on k
// have failed.
func (ps *PubSub) lost(k *link, err error) {
	ps.mu.Lock()
	if ps.d == nil || ps.d.k != k {
		ps.mu.Unlock()
		return
	}
	d := ps.d
	ps.d, ps.cancel, ps.paused = nil, nil, nil
	// A connection that had everything restored is redialed at once; one
	// lost before that counts as a failed attempt, so that a server that
	// accepts and then drops connections is not hammered.
	up := ps.state == psUp
	if up {
		ps.cause = err
	}
	next := ps.retryLocked(err, up)
	ps.mu.Unlock()
	ps.cl.forget(d)
	next()
}

// retryLocked starts the next attempt after one that failed with err: at
// once, or after the back-off; or ends the PubSub if err is not worth a
// retry. The returned function must be called without ps.mu.
func (ps *PubSub) retryLocked(err error, now bool) func() {
	if ps.state == psClosed {
		return func() {}
	}
	if errors.Is(err, ErrClosed) || ps.cl.ctx.Err() != nil {
		return ps.shutdownLocked(ErrClosed) // the client's dials are aborted
	}
	if permanent(err) {
		var ce *ConnError
		if !errors.As(err, &ce) {
			ce = &ConnError{Addr: ps.cl.opts.Addr, Err: err}
		}
		return ps.shutdownLocked(ce)
	}
	if now {
		return ps.dialLocked()
	}
	ps.attempts++
	ps.state = psBackoff
	var ce *ConnError
	if errors.As(err, &ce) {
		err = ce.Err
	}
	ps.lastErr = err
	// A Ping waiting for this attempt fails, as one made now would.
	w := ps.waiting[:0]
	for _, o := range ps.waiting {
		if o.kind == "" {
			o.done <- &ConnError{Addr: ps.cl.opts.Addr, Err: err}
			continue
		}
		w = append(w, o)
	}
	clear(ps.waiting[len(w):])
	ps.waiting = w
	wait := ps.cl.backoff(ps.attempts)
	if ps.timer == nil {
		ps.timer = ps.cl.pipes[0].home.AfterFunc(wait, ps.retryFn)
	} else {
		ps.timer.Reset(wait)
	}
	return func() {}
}

// retry runs on the timer's loop when the back-off has passed.
func (ps *PubSub) retry() {
	ps.mu.Lock()
	if ps.state != psBackoff {
		ps.mu.Unlock()
		return
	}
	next := ps.dialLocked()
	ps.mu.Unlock()
	next()
}

// permanent reports whether a failed connection attempt is not worth
// retrying: the server is up and refused the handshake, or the client is
// going away.
func permanent(err error) bool {
	if errors.Is(err, pool.ErrPoolClosed) || errors.Is(err, engine.ErrEngineClosed) {
		return true
	}
	var re *resp.Error
	if !errors.As(err, &re) {
		return false
	}
	switch re.Prefix() {
	case "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN":
		return false // passing states of a server that will serve again
	}
	return true
}

// requeue takes back a (un)subscription that was cut off by the loss of
// its connection, to send it again on the next one.
func (ps *PubSub) requeue(o *psOp) {
	if o.ctx.Err() != nil {
		return // its caller has given up
	}
	ps.mu.Lock()
	switch ps.state {
	case psClosed:
		err := ps.err
		ps.mu.Unlock()
		o.done <- err
		return
	case psUp, psRestoring:
		if ps.sendLocked(ps.d, o) == nil {
			ps.mu.Unlock()
			return
		}
	}
	ps.waiting = append(ps.waiting, o)
	ps.mu.Unlock()
}

// restored counts a confirmed resubscription on k; the last one completes
// the reconnection and delivers the notice of the gap.
func (ps *PubSub) restored(k *link) {
	ps.mu.Lock()
	if ps.state != psRestoring || ps.d == nil || ps.d.k != k {
		ps.mu.Unlock()
		return
	}
	if ps.restoring--; ps.restoring > 0 {
		ps.mu.Unlock()
		return
	}
	ps.state, ps.attempts = psUp, 0
	why := "connection lost"
	if ps.cause != nil {
		why = ps.cause.Error()
	}
	ps.cause = nil
	ps.mu.Unlock()
	ps.deliver(k, Message{Kind: "reconnected", Payload: why})
}

// event handles a pub/sub frame, on the loop: a message, or a
// (un)subscription confirmation, which answers the psOp at the head of
// the queue. It reports false for ordinary replies (PING's, errors).
func (ps *PubSub) event(k *link, v *resp.Value) bool {
	if (v.Type != resp.Push && v.Type != resp.Array) || len(v.Elems) < 3 {
		return false
	}
	e := v.Elems
	kind := e[0].Str
	switch string(kind) {
	case "message", "smessage":
		ps.deliver(k, Message{Kind: string(kind), Channel: string(e[1].Str), Payload: string(e[2].Str)})
	case "pmessage":
		if len(e) < 4 {
			return false
		}
		ps.deliver(k, Message{Kind: "pmessage", Pattern: string(e[1].Str), Channel: string(e[2].Str), Payload: string(e[3].Str)})
	case "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe":
		name := string(e[1].Str)
		set, add := subSet(string(kind))
		// The confirmation is the oldest command's if it is of its kind
		// and, when the command named channels, for the next of them (the
		// server confirms them in order): a shard channel the server
		// unsubscribes by itself may come first.
		o, ok := k.inflight.peek().(*psOp)
		ok = ok && o.kind == string(kind) && (len(o.names) == 0 || o.got < len(o.names) && o.names[o.got] == name)
		ps.mu.Lock()
		if ok && o.got == 0 && len(o.names) == 0 {
			// Unsubscribing from all: one confirmation per subscription
			// the server had when it ran the command, which is the set
			// now (every earlier confirmation has been seen), or a single
			// one when there was none.
			o.want = max(1, len(ps.subs[set]))
		}
		if add {
			if ps.subs[set] == nil {
				ps.subs[set] = map[string]bool{}
			}
			ps.subs[set][name] = true
		} else {
			delete(ps.subs[set], name)
		}
		dropped := ps.dropped
		ps.mu.Unlock()
		if !ok {
			if string(kind) == "sunsubscribe" && dropped != nil {
				dropped(name) // not asked for: the slot left this node
			}
			return true
		}
		o.got++
		if o.got >= o.want {
			k.inflight.pop()
			k.pending.Add(-1)
			if o.restore {
				ps.restored(k)
			} else {
				o.done <- nil
			}
		}
	default:
		return v.Type == resp.Push // other pushes: not ours to handle
	}
	return true
}

// deliver hands m to the handler or the queue; k is the connection it
// came from, paused when the queue is too long. Loop only.
func (ps *PubSub) deliver(k *link, m Message) {
	if ps.onMsg != nil {
		ps.onMsg(m)
		return
	}
	ps.mu.Lock()
	ps.queue = append(ps.queue, m)
	if ps.paused == nil && len(ps.queue)-ps.head >= highWater {
		ps.paused = k.ec
		k.ec.PauseRead()
	}
	ps.mu.Unlock()
	ps.wake()
}

// psOp is a command on the subscription connection: a (un)subscription,
// which waits for one confirmation per name, or a PING (kind ""). It sits
// in the reply queue like a command; confirmations are matched to it by
// event, and an error reply or a lost connection reaches it through reply.
type psOp struct {
	ps        *PubSub
	ctx       context.Context // its caller's: not sent once it has ended
	kind      string          // the confirmation expected; "" for PING
	cmd       string
	names     []string
	want, got int
	restore   bool   // sent by the PubSub itself to restore subscriptions
	seq       uint64 // order of the calls
	done      chan error
}

func (o *psOp) reply(v *resp.Value, err error) {
	switch {
	case v == nil && o.restore:
		return // the connection is lost; the next one restores again
	case v == nil && o.kind != "":
		// Lost with its connection (or never sent): it goes out again on
		// the next one, where the server's state starts afresh.
		o.ps.requeue(o)
		return
	case v != nil && err == nil && o.kind != "":
		err = &TypeError{Want: o.kind + " confirmation", Got: v.String()}
	}
	if o.restore {
		// A server that took the subscription once refuses it now: going
		// on without it would drop its messages silently.
		o.ps.shutdown(fmt.Errorf("redis: resubscribing after a reconnection: %w", err))
		return
	}
	o.done <- err
}

// subSet maps a confirmation kind to the set of subscriptions it changes
// and whether it adds to it.
func subSet(kind string) (set string, add bool) {
	switch kind {
	case "unsubscribe":
		return "subscribe", false
	case "punsubscribe":
		return "psubscribe", false
	case "sunsubscribe":
		return "ssubscribe", false
	}
	return kind, true
}
