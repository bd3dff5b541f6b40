package resolver

import (
	"context"
	"net/netip"
	"time"
)

// Workers are started on demand, up to Config.Workers, and exit as soon as
// the queue is empty: an idle Resolver holds no goroutine, and a burst of
// distinct names costs at most Workers goroutines, never one per lookup.

// enqueue queues f and starts a worker if the bound allows. Called with
// r.mu held.
func (r *Resolver) enqueue(f *flight) {
	r.queue.push(f)
	if r.workers < r.maxWorkers {
		r.workers++
		r.wg.Add(1)
		go r.work()
	}
}

// abandon takes f out of service after its last waiter left: a queued
// flight is dropped before it costs a query, a running one is cancelled.
// Called with r.mu held; the returned cancel must be called after
// unlocking, so that no foreign code runs under the lock.
func (r *Resolver) abandon(f *flight) context.CancelFunc {
	f.abandoned = true
	if r.flights[f.key] == f {
		delete(r.flights, f.key)
	}
	if f.queued {
		r.queue.remove(f)
		return nil
	}
	return f.cancel
}

func (r *Resolver) work() {
	defer r.wg.Done()
	r.mu.Lock()
	for {
		f := r.queue.pop()
		if f == nil {
			r.workers--
			r.mu.Unlock()
			return
		}
		if !time.Now().Before(f.deadline) {
			// Timed out while queued: answer at once, query nothing.
			r.mu.Unlock()
			r.finish(f, nil, context.DeadlineExceeded)
			r.mu.Lock()
			continue
		}
		ctx, cancel := context.WithDeadline(f.vctx, f.deadline)
		f.cancel = cancel
		r.mu.Unlock()

		r.nLookups.Add(1)
		addrs, err := r.lookup(ctx, f.key.network, f.key.host)
		cancel()
		r.finish(f, addrs, err)

		r.mu.Lock()
	}
}

// finish turns what Config.Lookup returned into the shared answer, caches
// it when it is cacheable, and calls every waiter still attached.
func (r *Resolver) finish(f *flight, raw []netip.Addr, lerr error) {
	network, host := f.key.network, f.key.host
	var addrs []netip.Addr
	var e *Error
	if lerr != nil {
		e = newError(network, host, classify(lerr), lerr)
	} else if addrs = normalize(network, raw); addrs == nil {
		e = newError(network, host, kindNotFound, ErrNotFound)
	}

	r.mu.Lock()
	if r.flights[f.key] == f {
		delete(r.flights, f.key)
	}
	ws := f.detachAll()
	// Only answers are cached: addresses, or "not found" from a lookup
	// that nobody cancelled. Timeouts and failures are retried next time.
	if !r.closed && (e == nil || e.kind == kindNotFound && !f.abandoned) {
		r.cache.put(f.key, addrs, e, r.now())
	}
	r.mu.Unlock()

	var err error
	if e != nil {
		err = e // never a typed nil in the interface
	}
	for _, w := range ws {
		if w.stop != nil {
			w.stop()
		}
		r.deliver(w.cb, addrs, err)
	}
}
