package resolver

import (
	"context"
	"net/netip"
	"time"
)

// flight is one lookup that any number of callers wait for. It is queued
// until a worker picks it up, then running until Config.Lookup returns.
// All fields are guarded by Resolver.mu.
type flight struct {
	key key

	// vctx carries the first caller's values (for a custom Lookup's
	// tracing) but none of its cancellation: the lookup outlives any one
	// caller and is cancelled only when every caller has left.
	vctx context.Context

	// deadline is Config.Timeout from when the flight was queued: the
	// wait for a free worker counts, so that busy workers cannot hold a
	// caller without a deadline of its own for longer than Timeout.
	deadline time.Time

	waiters []*waiter
	cancel  context.CancelFunc // set when a worker starts the lookup

	queued     bool
	abandoned  bool    // every waiter left; its error answer means nothing
	prev, next *flight // queue links while queued
}

// waiter is one caller of LookupAsync waiting for a flight.
//
// Exactly-once delivery rests on one rule: whoever detaches the waiter
// from its flight (sets f to nil) under Resolver.mu calls its callback.
// That is the worker that finished the lookup, Close, or the waiter's own
// context firing, whichever takes the lock first.
type waiter struct {
	r    *Resolver
	f    *flight // nil once detached
	i    int     // index in f.waiters, for O(1) removal
	ctx  context.Context
	cb   func([]netip.Addr, error)
	stop func() bool // unregisters the context.AfterFunc; nil if ctx never ends
}

func (f *flight) add(w *waiter) {
	w.f = f
	w.i = len(f.waiters)
	f.waiters = append(f.waiters, w)
}

// remove detaches w; callback order is not promised, so swap with the last.
func (f *flight) remove(w *waiter) {
	last := len(f.waiters) - 1
	moved := f.waiters[last]
	f.waiters[w.i] = moved
	moved.i = w.i
	f.waiters[last] = nil
	f.waiters = f.waiters[:last]
	w.f = nil
}

// detachAll takes every waiter off f, transferring the duty to call them.
func (f *flight) detachAll() []*waiter {
	ws := f.waiters
	f.waiters = nil
	for _, w := range ws {
		w.f = nil
	}
	return ws
}

// ctxDone runs (on a goroutine of package context) when the waiter's
// context ends. If the answer has not been delivered yet, the waiter
// leaves its flight and is answered with the context's error at once; the
// last waiter to leave takes the lookup down with it.
func (w *waiter) ctxDone() {
	r := w.r
	r.mu.Lock()
	f := w.f
	if f == nil {
		r.mu.Unlock()
		return // already answered or being answered
	}
	f.remove(w)
	var cancel context.CancelFunc
	if len(f.waiters) == 0 {
		cancel = r.abandon(f)
	}
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	r.deliver(w.cb, nil, ctxError(w.ctx, f.key.network, f.key.host))
}

// flightQueue is a FIFO of flights waiting for a worker, linked through
// the flights so that an abandoned one leaves in O(1).
type flightQueue struct {
	head, tail *flight
}

func (q *flightQueue) push(f *flight) {
	f.queued = true
	f.prev = q.tail
	f.next = nil
	if q.tail != nil {
		q.tail.next = f
	} else {
		q.head = f
	}
	q.tail = f
}

func (q *flightQueue) remove(f *flight) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		q.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		q.tail = f.prev
	}
	f.prev, f.next, f.queued = nil, nil, false
}

func (q *flightQueue) pop() *flight {
	f := q.head
	if f != nil {
		q.remove(f)
	}
	return f
}
