package redis

import (
	"context"
	"sync"

	"github.com/egress-go/egress/resp"
)

// Message is a message received on a subscription.
type Message struct {
	// Kind is "message" (SUBSCRIBE), "pmessage" (PSUBSCRIBE) or
	// "smessage" (SSUBSCRIBE).
	Kind    string
	Channel string
	// Pattern is the pattern that matched, for a pmessage.
	Pattern string
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
// A PubSub does not reconnect: if its connection is lost, Receive returns
// a *ConnError once the queued messages are read, and a new PubSub must be
// made (messages published meanwhile are lost, as pub/sub promises no
// delivery).
type PubSub struct {
	d     *Conn
	onMsg func(Message)

	mu     sync.Mutex
	queue  []Message
	head   int
	paused bool
	err    error
	notify chan struct{}
	subs   map[string]map[string]bool // confirmed, by kind: "subscribe", "psubscribe", "ssubscribe"
}

// NewPubSub opens a dedicated connection for subscriptions. onMessage, if
// not nil, receives every message on the connection's loop and must not
// block; otherwise messages are read with Receive.
func (c *Client) NewPubSub(ctx context.Context, onMessage func(Message)) (*PubSub, error) {
	d, err := c.Conn(ctx)
	if err != nil {
		return nil, err
	}
	ps := &PubSub{d: d, onMsg: onMessage, notify: make(chan struct{}, 1), subs: map[string]map[string]bool{}}
	d.dirty.Store(true)
	d.p.mu.Lock()
	d.k.sub = ps
	d.p.mu.Unlock()
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

// Unsubscribe unsubscribes from channels, or from all with none given.
func (ps *PubSub) Unsubscribe(ctx context.Context, channels ...string) error {
	return ps.op(ctx, "unsubscribe", "UNSUBSCRIBE", channels)
}

// PUnsubscribe unsubscribes from patterns, or from all with none given.
func (ps *PubSub) PUnsubscribe(ctx context.Context, patterns ...string) error {
	return ps.op(ctx, "punsubscribe", "PUNSUBSCRIBE", patterns)
}

// Channels returns the channels and patterns the server has confirmed.
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

func (ps *PubSub) op(ctx context.Context, kind, cmd string, names []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	want := len(names)
	if want == 0 {
		if kind == "subscribe" || kind == "psubscribe" {
			return errNoCommand
		}
		// Unsubscribing from all: one confirmation per subscription, or
		// a single one when there is none.
		set, _ := subSet(kind)
		ps.mu.Lock()
		want = max(1, len(ps.subs[set]))
		ps.mu.Unlock()
	}
	o := &subOp{kind: kind, want: want, done: make(chan error, 1)}
	if err := ps.d.p.send(o, prepend(names, cmd)); err != nil {
		return err
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ping checks the subscription connection.
func (ps *PubSub) Ping(ctx context.Context) error {
	w, err := ps.d.call(ctx, convNone, []string{"PING"})
	if err != nil {
		return err
	}
	w.recycle()
	return nil
}

func convNone(*waiter, *resp.Value) {}

// Receive returns the next message, waiting for one until ctx ends. Once
// the connection is gone and the queue is empty it returns the reason:
// ErrClosed after Close, else a *ConnError.
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
			if ps.paused && len(ps.queue)-ps.head <= lowWater {
				ps.paused = false
				if ec := ps.d.k.ec; ec != nil {
					ec.ResumeRead()
				}
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

// Close closes the subscription's connection. Receive then returns
// ErrClosed.
func (ps *PubSub) Close() error {
	ps.mu.Lock()
	if ps.err == nil {
		ps.err = ErrClosed
	}
	ps.mu.Unlock()
	return ps.d.Close()
}

// event handles a pub/sub frame, on the loop: a message, or a
// (un)subscription confirmation, which answers the subOp at the head of
// the queue. It reports false for ordinary replies (PING's, errors).
func (ps *PubSub) event(k *link, v *resp.Value) bool {
	if (v.Type != resp.Push && v.Type != resp.Array) || len(v.Elems) < 3 {
		return false
	}
	e := v.Elems
	kind := e[0].Str
	switch string(kind) {
	case "message", "smessage":
		ps.deliver(Message{Kind: string(kind), Channel: string(e[1].Str), Payload: string(e[2].Str)})
	case "pmessage":
		if len(e) < 4 {
			return false
		}
		ps.deliver(Message{Kind: "pmessage", Pattern: string(e[1].Str), Channel: string(e[2].Str), Payload: string(e[3].Str)})
	case "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe":
		name := string(e[1].Str)
		set, add := subSet(string(kind))
		ps.mu.Lock()
		if add {
			if ps.subs[set] == nil {
				ps.subs[set] = map[string]bool{}
			}
			ps.subs[set][name] = true
		} else {
			delete(ps.subs[set], name)
		}
		ps.mu.Unlock()
		if o, ok := k.inflight.peek().(*subOp); ok && o.kind == string(kind) {
			o.got++
			if o.got >= o.want {
				k.inflight.pop()
				k.pending.Add(-1)
				o.done <- nil
			}
		}
	default:
		return v.Type == resp.Push // other pushes: not ours to handle
	}
	return true
}

func (ps *PubSub) deliver(m Message) {
	if ps.onMsg != nil {
		ps.onMsg(m)
		return
	}
	ps.mu.Lock()
	ps.queue = append(ps.queue, m)
	if !ps.paused && len(ps.queue)-ps.head >= highWater {
		ps.paused = true
		ps.d.k.ec.PauseRead()
	}
	ps.mu.Unlock()
	select {
	case ps.notify <- struct{}{}:
	default:
	}
}

// closed records the end of the connection, on the loop.
func (ps *PubSub) closed(err error) {
	ps.mu.Lock()
	if ps.err == nil {
		ps.err = &ConnError{Addr: ps.d.cl.opts.Addr, Sent: true, Err: err}
	}
	ps.mu.Unlock()
	select {
	case ps.notify <- struct{}{}:
	default:
	}
}

// subOp waits for the confirmations of a (un)subscribe command, one per
// name. It sits in the reply queue like a command; the confirmations are
// matched to it by event, and an error reply or a lost connection reaches
// it through reply.
type subOp struct {
	kind      string
	want, got int
	done      chan error
}

func (o *subOp) reply(v *resp.Value, err error) {
	if err == nil {
		err = &TypeError{Want: o.kind + " confirmation", Got: v.String()}
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
