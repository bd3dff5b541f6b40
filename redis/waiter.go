package redis

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/resp"
)

// convFunc turns a reply into the waiter's result, on the loop, while the
// value is still valid. Each typed command has one; they are plain
// functions, so choosing one allocates nothing.
type convFunc func(w *waiter, v *resp.Value)

// waiter is how the blocking API waits for a reply: the loop converts the
// reply into its fields and signals done. Waiters are pooled with their
// channel, so a blocking command allocates only what its result needs.
type waiter struct {
	done  chan struct{}
	state atomic.Uint32
	conv  convFunc
	node  atomic.Pointer[clusterNode] // where a cluster command waits now

	err error
	s   string
	n   int64
	f   float64
	b   bool
	ss  []string
	m   map[string]string
	r   Reply
}

const (
	wWaiting   = iota
	wDone      // the reply is in; done was signalled
	wAbandoned // the caller's context ended first; the loop recycles it
)

var waiters = sync.Pool{New: func() any { return &waiter{done: make(chan struct{}, 1)} }}

func getWaiter(conv convFunc) *waiter {
	w := waiters.Get().(*waiter)
	w.conv = conv
	return w
}

func (w *waiter) recycle() {
	w.state.Store(wWaiting)
	w.node.Store(nil)
	w.conv, w.err, w.s, w.n, w.f, w.b, w.ss, w.m, w.r = nil, nil, "", 0, 0, false, nil, nil, Reply{}
	waiters.Put(w)
}

func (w *waiter) reply(v *resp.Value, err error) {
	if w.state.Load() == wAbandoned {
		w.recycle()
		return
	}
	if err != nil {
		w.err = err
	} else {
		w.conv(w, v)
	}
	if w.state.CompareAndSwap(wWaiting, wDone) {
		w.done <- struct{}{}
		return
	}
	w.recycle() // abandoned while converting
}

// wait blocks until the reply or the end of ctx. On ctx's end the command
// fails at once; its reply, when it comes, is discarded by the loop.
func (w *waiter) wait(ctx context.Context) error {
	d := ctx.Done()
	if d == nil {
		<-w.done
		return nil
	}
	select {
	case <-w.done:
		return nil
	case <-d:
		if w.state.CompareAndSwap(wWaiting, wAbandoned) {
			return ctx.Err()
		}
		<-w.done // the reply won the race; use it
		return nil
	}
}

// Callback receives the reply to a command sent with DoAsync: the decoded
// value, valid only during the call (convert it with the As functions or
// keep a copy with Clone), and err, which is the *resp.Error for an error
// reply (v is then set too), or with v nil the reason the command failed:
// a *ConnError, or the context's error. It runs on an engine loop and must
// not block.
type Callback func(v *resp.Value, err error)

func (f Callback) reply(v *resp.Value, err error) { f(v, err) }

// asyncCall is a Callback with a context that can end: whichever comes
// first, the reply or the context's end, calls back; the other is dropped.
type asyncCall struct {
	cb    Callback
	ctx   context.Context
	loop  *engine.Loop
	state atomic.Bool // called back
	stop  func() bool
}

func newAsyncCall(ctx context.Context, cb Callback, l *engine.Loop) *asyncCall {
	a := &asyncCall{cb: cb, ctx: ctx, loop: l}
	a.stop = context.AfterFunc(ctx, a.expire)
	return a
}

func (a *asyncCall) reply(v *resp.Value, err error) {
	if a.state.CompareAndSwap(false, true) {
		a.stop()
		a.cb(v, err)
	}
}

// expire runs on a goroutine of its own when ctx ends, and calls back on a
// loop so that callbacks always run on one.
func (a *asyncCall) expire() {
	if !a.state.CompareAndSwap(false, true) {
		return
	}
	f := func() { a.cb(nil, a.ctx.Err()) }
	if !a.loop.Post(f) {
		f() // the engine has stopped: no loop will run it
	}
}

// Converters for the typed commands.

func convReply(w *waiter, v *resp.Value) { w.r = Reply{v: v.Clone()} }

func convString(w *waiter, v *resp.Value) { w.s, w.err = AsString(v) }

func convInt(w *waiter, v *resp.Value) { w.n, w.err = AsInt(v) }

func convFloat(w *waiter, v *resp.Value) { w.f, w.err = AsFloat(v) }

func convBool(w *waiter, v *resp.Value) { w.b, w.err = AsBool(v) }

func convOK(w *waiter, v *resp.Value) { w.err = AsOK(v) }

func convStrings(w *waiter, v *resp.Value) { w.ss, w.err = AsStrings(v) }

func convMap(w *waiter, v *resp.Value) { w.m, w.err = AsStringMap(v) }

// convOKOrNil is SET with NX/XX/GET: +OK, or a null when nothing was set.
func convOKOrNil(w *waiter, v *resp.Value) {
	if v.IsNull() {
		w.b = false
		return
	}
	w.err = AsOK(v)
	w.b = w.err == nil
}

// convFloatOrNil is ZSCORE and friends: a number, or a null for a missing
// member (ErrNil).
func convFloatOrNil(w *waiter, v *resp.Value) { w.f, w.err = AsFloat(v) }
