package pool

import (
	"context"
	"time"

	"github.com/egress-go/egress/engine"
)

// request is a Request or RequestAsync that could not be answered from the
// idle stack: it dials, or waits in its key's queue. Only this slow path
// allocates.
type request struct {
	kp  *keyPool
	ctx context.Context
	h   engine.Handler
	cb  Waiter      // RequestAsync, RequestTo
	ch  chan result // Request: one result per attempt

	// Guarded by p.mu.
	prev, next *request // the key's queue; next also links wake-up lists
	queued     bool
	waited     bool  // has been queued: counted in cWaits, since set
	since      int64 // p.now() when first queued
	stopWait   func() bool
	stopDial   func() bool // the watch of ctx over r's dial (see watchDial)
}

type result struct {
	pc      *Conn
	handoff bool // pc is reserved for the request and must be accepted
	err     error
}

// admitLocked reserves a slot for a dial (reporting true) or queues r,
// at the front when it is retrying after a handed-off connection died.
func (p *Pool) admitLocked(r *request, front bool) (dial bool) {
	kp := r.kp
	if !p.streamSoonLocked(kp) && (p.cfg.MaxTotalPerKey == 0 || kp.total < p.cfg.MaxTotalPerKey) {
		kp.total++
		kp.dialing++
		return true
	}
	if !r.waited {
		r.waited, r.since = true, p.now()
		p.inc(kp, cWaits)
	}
	r.queued = true
	if front {
		r.next = kp.wHead
		if kp.wHead != nil {
			kp.wHead.prev = r
		} else {
			kp.wTail = r
		}
		kp.wHead = r
	} else {
		r.prev = kp.wTail
		if kp.wTail != nil {
			kp.wTail.next = r
		} else {
			kp.wHead = r
		}
		kp.wTail = r
	}
	kp.nWait++
	// The context package runs the function on a goroutine of its own,
	// and only once ctx is done: no goroutine waits meanwhile.
	r.stopWait = context.AfterFunc(r.ctx, r.cancelWait)
	return false
}

// popWaiter removes the oldest waiter, or returns nil.
func (kp *keyPool) popWaiter() *request {
	r := kp.wHead
	if r == nil {
		return nil
	}
	kp.unlinkWaiter(r)
	return r
}

func (kp *keyPool) unlinkWaiter(r *request) {
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		kp.wHead = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else {
		kp.wTail = r.prev
	}
	r.prev, r.next = nil, nil
	r.queued = false
	kp.nWait--
	if r.stopWait != nil {
		r.stopWait() // false if cancelWait is on its way: it finds r unqueued
		r.stopWait = nil
	}
}

// cancelWait runs when a queued request's context ends.
func (r *request) cancelWait() {
	p := r.kp.p
	p.mu.Lock()
	if !r.queued {
		p.mu.Unlock()
		return
	}
	r.stopWait = nil
	r.kp.unlinkWaiter(r)
	p.inc(r.kp, cWaitTimeouts)
	err := &WaitError{Key: r.kp.key, Waited: time.Duration(p.now() - r.since), Limit: p.cfg.MaxTotalPerKey, Err: r.ctx.Err()}
	p.mu.Unlock()
	r.fail(err, false)
}

// wait is the blocking side of Request.
func (r *request) wait() (*Conn, error) {
	p := r.kp.p
	for {
		res := <-r.ch
		if res.err != nil {
			return nil, res.err
		}
		if !res.handoff {
			return res.pc, nil
		}
		p.mu.Lock()
		if p.acceptLocked(r, res.pc) {
			p.mu.Unlock()
			return res.pc, nil
		}
		pc, dial, err := p.retryLocked(r)
		p.mu.Unlock()
		switch {
		case err != nil:
			return nil, err
		case pc != nil:
			return pc, nil
		case dial:
			p.startDial(r, true)
		}
	}
}

// acceptLocked takes a connection reserved for r, unless it died in the
// meantime (closed, or bytes arrived while the pool watched it) or passed
// MaxAge: Release checked its age, but the waiter may take it later (its
// goroutine or loop busy), and its age timer does not close a reserved
// connection.
func (p *Pool) acceptLocked(r *request, pc *Conn) bool {
	pc.mu.Lock()
	st := pc.state
	pc.mu.Unlock()
	if st != stReserved {
		return false // finished by its OnClose already
	}
	now := p.now()
	if pc.aged || p.tooOld(pc, now) {
		p.inc(pc.kp, cExpired)
		p.closeLocked(pc) // its OnClose frees the slot for r's retry
		return false
	}
	if p.claimLocked(pc, r.h, now) {
		return true
	}
	p.closeLocked(pc) // its OnClose, on the way, finishes it
	return false
}

// retryLocked serves r again after the connection handed to it died: from
// the idle stack, with a dial, or back at the head of the queue.
func (p *Pool) retryLocked(r *request) (pc *Conn, dial bool, err error) {
	if p.closed {
		return nil, false, ErrPoolClosed
	}
	if pc := p.takeIdleLocked(r.kp, r.h); pc != nil {
		return pc, false, nil
	}
	return nil, p.admitLocked(r, true), nil
}

// handoff gives r a released connection reserved for it.
func (r *request) handoff(pc *Conn) {
	if r.ch != nil {
		r.ch <- result{pc: pc, handoff: true}
		return
	}
	// The callback runs on the connection's loop, where none of its
	// events can slip in between the check and the callback.
	if !pc.c.Loop().Post(func() { r.acceptAsync(pc) }) {
		r.cb.GotConn(nil, engine.ErrEngineClosed)
	}
}

func (r *request) acceptAsync(pc *Conn) {
	p := r.kp.p
	p.mu.Lock()
	if p.acceptLocked(r, pc) {
		p.mu.Unlock()
		r.cb.GotConn(pc, nil)
		return
	}
	pc2, dial, err := p.retryLocked(r)
	p.mu.Unlock()
	switch {
	case err != nil:
		r.cb.GotConn(nil, err)
	case pc2 != nil:
		// This is the loop of the connection that died: the callback
		// runs on pc2's own, as RequestAsync promises.
		if !pc2.c.Loop().Post(func() { r.cb.GotConn(pc2, nil) }) {
			pc2.Release(false)
			r.cb.GotConn(nil, engine.ErrEngineClosed)
		}
	case dial:
		p.startDial(r, true)
	}
}

// deliver gives r a connection already checked out to it. It runs on the
// connection's loop (OnOpen).
func (r *request) deliver(pc *Conn) {
	if r.ch != nil {
		r.ch <- result{pc: pc}
		return
	}
	r.cb.GotConn(pc, nil)
}

// fail ends r with err. inline says the callback may run on this
// goroutine; otherwise it is posted to loop 0.
func (r *request) fail(err error, inline bool) {
	if r.ch != nil {
		r.ch <- result{err: err}
		return
	}
	if inline || !r.kp.p.e.Loop(0).Post(func() { r.cb.GotConn(nil, err) }) {
		r.cb.GotConn(nil, err)
	}
}
