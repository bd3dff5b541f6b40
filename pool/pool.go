package pool

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/egress-go/egress/engine"
)

// Pool hands out ready connections by Key and takes them back. It is safe
// for concurrent use.
type Pool struct {
	e    *engine.Engine
	cfg  Config
	dial DialFunc
	base time.Time // origin of now()

	mu      sync.Mutex
	closed  bool
	keys    map[Key]*keyPool
	oldest  *Conn // the pool's idle list, by release time
	newest  *Conn
	nIdle   int
	total   counters
	cleaner *engine.Timer
	armed   bool // cleaner pending

	noCleaner bool // tests: checkout expiry without the cleaner racing it
}

// keyPool is one key's connections, queue and counters. Guarded by
// Pool.mu. Entries live as long as the pool, so that per-key statistics
// survive their connections.
type keyPool struct {
	p       *Pool
	key     Key
	top     *Conn // idle stack: top is the most recently released
	bottom  *Conn
	nIdle   int
	total   int // dialing + idle + reserved + in use + closing
	dialing int
	inUse   int
	wHead   *request // FIFO of waiting requests
	wTail   *request
	nWait   int
	ctr     counters

	// Multiplexed connections (shared.go).
	sTop       *Conn // shared connections taking new streams, linked through kPrev/kNext
	nShared    int   // shared connections, listed or retired
	streams    int   // streams in use on them
	sharedSeen bool  // a connection of this key was shared: coalesce dials
	// Fresh connections of a key known to multiplex, handed to their
	// first user, who has not yet said whether they are shared (Share)
	// or not (their first Release).
	pendingShare int
}

// New returns a pool that dials through e (or cfg.Dial). Close it before
// the engine: a pool on a closed engine only returns errors.
func New(e *engine.Engine, cfg Config) *Pool {
	cfg.MaxIdlePerKey = max(cfg.MaxIdlePerKey, 0)
	cfg.MaxTotalPerKey = max(cfg.MaxTotalPerKey, 0)
	cfg.MaxIdle = max(cfg.MaxIdle, 0)
	p := &Pool{e: e, cfg: cfg, dial: cfg.Dial, base: time.Now(), keys: make(map[Key]*keyPool)}
	if p.dial == nil {
		p.dial = p.dialTCP
	}
	return p
}

// Config returns the pool's settings.
func (p *Pool) Config() Config { return p.cfg }

// Engine returns the engine the pool was made with.
func (p *Pool) Engine() *engine.Engine { return p.e }

func (p *Pool) dialTCP(ctx context.Context, key Key, h engine.Handler) (*engine.Conn, error) {
	if key.TLS != nil || key.Proxy != "" {
		return nil, ErrNeedDialer
	}
	network := key.Network
	if network == "" {
		network = "tcp"
	}
	return p.e.Dial(ctx, network, key.Addr, h, nil)
}

// now is the pool's monotonic clock in nanoseconds.
func (p *Pool) now() int64 { return int64(time.Since(p.base)) }

func (p *Pool) keyLocked(key Key) *keyPool {
	kp := p.keys[key]
	if kp == nil {
		kp = &keyPool{p: p, key: key}
		p.keys[key] = kp
	}
	return kp
}

// Request returns a ready connection for key with h installed as its
// handler, so h may receive events before Request returns. h never sees
// the dial's OnOpen: the connection is open when it is handed over. It reuses the
// most recently released idle connection of key, dials a new one, or, when
// MaxTotalPerKey connections exist, waits for one until ctx ends (then the
// error is a *WaitError). A dial is bounded by ctx and the engine's dial
// timeout. Every connection returned must be given back with Release.
// h may be nil while the caller only writes.
//
// A key with a multiplexed connection that has room (see Conn.Share) is
// served a stream of it first: then h is not installed (the connection
// keeps its sharer's handler, see Conn.Handler) and the stream goes back
// with Conn.ReleaseStream.
func (p *Pool) Request(ctx context.Context, key Key, h engine.Handler) (*Conn, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h == nil {
		h = noHandler{}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	kp := p.keyLocked(key)
	p.inc(kp, cRequests)
	if pc := p.takeStreamLocked(kp); pc != nil {
		p.mu.Unlock()
		return pc, nil
	}
	if pc := p.takeIdleLocked(kp, h); pc != nil {
		p.mu.Unlock()
		return pc, nil
	}
	r := &request{kp: kp, ctx: ctx, h: h, ch: make(chan result, 1)}
	dial := p.admitLocked(r, false)
	p.mu.Unlock()
	if dial {
		p.startDial(r, true)
	}
	return r.wait()
}

// RequestAsync is Request without blocking: cb receives the connection or
// the error exactly once, and must not block. Where cb runs:
//
//   - on the calling goroutine, before RequestAsync returns, when the
//     answer is known at once: an idle connection was taken, the pool is
//     closed, ctx has ended, or Config.Dial failed at once;
//   - otherwise on an engine loop goroutine: the connection's loop when a
//     connection is delivered (a new one from its OnOpen, a released one
//     from a task posted to its loop) or a dial fails (from its OnClose);
//     loop 0 when a wait ends with an error (context, Close); the loop of
//     a released connection that died on its way to cb, when what
//     follows is an error (the pool closed meanwhile);
//   - on the goroutine that found the failure, only if the engine is
//     closed so that no loop can run it.
//
// No goroutine waits for the answer: a queued request is a small struct
// with a context.AfterFunc registration.
func (p *Pool) RequestAsync(ctx context.Context, key Key, h engine.Handler, cb func(*Conn, error)) {
	p.RequestTo(ctx, key, h, waiterFunc(cb))
}

// A Waiter receives the answer to a RequestTo.
type Waiter interface {
	GotConn(pc *Conn, err error)
}

// waiterFunc makes a RequestAsync callback a Waiter; a func value is a
// pointer, so the conversion allocates nothing.
type waiterFunc func(*Conn, error)

func (f waiterFunc) GotConn(pc *Conn, err error) { f(pc, err) }

// RequestTo is RequestAsync with the answer going to w's GotConn, under
// the same rules. A caller that keeps its state in a struct passes the
// struct itself, where RequestAsync would need a method value allocated
// for each request.
func (p *Pool) RequestTo(ctx context.Context, key Key, h engine.Handler, w Waiter) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		w.GotConn(nil, err)
		return
	}
	if h == nil {
		h = noHandler{}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		w.GotConn(nil, ErrPoolClosed)
		return
	}
	kp := p.keyLocked(key)
	p.inc(kp, cRequests)
	if pc := p.takeStreamLocked(kp); pc != nil {
		p.mu.Unlock()
		w.GotConn(pc, nil)
		return
	}
	if pc := p.takeIdleLocked(kp, h); pc != nil {
		p.mu.Unlock()
		w.GotConn(pc, nil)
		return
	}
	r := &request{kp: kp, ctx: ctx, h: h, cb: w}
	dial := p.admitLocked(r, false)
	p.mu.Unlock()
	if dial {
		p.startDial(r, true)
	}
}

// claimLocked checks out pc to a user with handler h, unless it has died
// (closed, or bytes arrived while the pool held it). The check and the
// switch to stOut are one critical section of pc.mu: the loop marks a
// connection bad in a section of its own that sees it is not out, so
// either it marks it before the claim, which then fails, or it sees stOut
// and forwards the bytes to h. now is p.now(), which the caller has at
// hand on the hot path (takeIdleLocked): clock reads are a visible part
// of a checkout's cost.
func (p *Pool) claimLocked(pc *Conn, h engine.Handler, now int64) bool {
	pc.mu.Lock()
	if pc.closed || pc.bad {
		pc.mu.Unlock()
		return false
	}
	pc.state = stOut
	pc.user = h
	pc.mu.Unlock()
	kp := pc.kp
	pc.owner = nil
	kp.inUse++
	pc.uses++
	pc.reused = pc.pooled
	if pc.pooled {
		pc.idleAt = now - pc.idleAt // from now on, IdleTime
		p.inc(kp, cReuses)
	} else {
		pc.idleAt = 0
	}
	return true
}

// Release gives back a connection obtained from Request. With reusable
// false, or when the connection has closed, passed MaxAge, was released
// after Close, or its key already holds MaxIdlePerKey idle connections, it
// is closed; otherwise it goes to the oldest waiting request of its key, or
// to the top of the key's idle stack. Pass reusable true only for a clean
// connection (see the package documentation).
//
// Releasing a connection that is not checked out (twice, say) returns
// ErrNotInUse and changes nothing. The pool cannot tell a stale *Conn from
// the current holder's, though: after Release the caller must not touch the
// connection, since it may already belong to another request.
func (p *Pool) Release(pc *Conn, reusable bool) error {
	p.mu.Lock()
	pc.mu.Lock()
	if pc.kp.p != p || pc.state != stOut {
		pc.mu.Unlock()
		p.mu.Unlock()
		return ErrNotInUse
	}
	kp := pc.kp
	kp.inUse--
	if pc.shared {
		p.unshareLocked(pc)
		reusable = false // a multiplexed connection goes back only to close
	} else if pc.uses == 1 && kp.pendingShare > 0 {
		kp.pendingShare-- // a fresh connection that was not shared
	}
	now := p.now()
	old := pc.aged || p.tooOld(pc, now)
	if !reusable || pc.closed || pc.bad || p.closed || old {
		if reusable && old {
			p.inc(kp, cExpired)
		} else {
			p.inc(kp, cDiscarded)
		}
		pc.user = nil
		wake := p.dropOutLocked(pc)
		p.mu.Unlock()
		p.startDials(wake)
		return nil
	}
	// From here the pool watches it: bytes or a close that arrive before
	// placeLocked files it mark it, and it is dropped, not handed out.
	pc.state = stReserved
	pc.user = nil
	pc.mu.Unlock()
	r := p.placeLocked(pc, now)
	// A fresh connection of a multiplexing key that its first user did
	// not share: waiters that queued for its streams (streamSoonLocked)
	// expect none now, and those it did not go to must dial.
	wake := p.wakeLocked(kp)
	p.mu.Unlock()
	p.startDials(wake)
	if r != nil {
		r.handoff(pc)
		return nil
	}
	// Idle now (or closing for want of room): a layer may give back what
	// it grew while the connection was busy.
	pc.c.Compact()
	return nil
}

// dropOutLocked closes a connection that was checked out; called with
// pc.mu held, it releases it.
func (p *Pool) dropOutLocked(pc *Conn) (wake *request) {
	if pc.closed {
		pc.state = stDone
		pc.mu.Unlock()
		return p.finishLocked(pc)
	}
	pc.state = stClosing
	pc.mu.Unlock()
	pc.c.Close()
	return nil
}

// placeLocked puts a live connection that nobody holds where it belongs:
// to the oldest waiter of its key (returned, for handoff after unlocking),
// onto the idle stack, or closed when there is no room.
func (p *Pool) placeLocked(pc *Conn, now int64) *request {
	kp := pc.kp
	pc.idleAt = now
	pc.pooled = true
	if r := kp.popWaiter(); r != nil {
		pc.mu.Lock()
		pc.state = stReserved
		pc.mu.Unlock()
		pc.owner = r
		return r
	}
	if kp.nIdle >= p.cfg.MaxIdlePerKey {
		p.inc(kp, cDiscarded)
		p.closeLocked(pc)
		return nil
	}
	pc.mu.Lock()
	pc.state = stIdle
	pc.mu.Unlock()
	p.pushIdleLocked(pc)
	if p.cfg.MaxIdle > 0 && p.nIdle > p.cfg.MaxIdle {
		victim := p.oldest
		p.inc(victim.kp, cEvicted)
		p.retireLocked(victim)
	}
	p.armCleanerLocked()
	return nil
}

// closeLocked closes a connection the pool holds and is not listed.
func (p *Pool) closeLocked(pc *Conn) {
	pc.mu.Lock()
	pc.state = stClosing
	pc.mu.Unlock()
	pc.c.Close()
}

// finishLocked forgets a closed connection: its slot is free, so a waiter
// of its key may dial. It returns the waiters to dial for.
func (p *Pool) finishLocked(pc *Conn) *request {
	kp := pc.kp
	kp.total--
	return p.wakeLocked(kp)
}

// wakeLocked takes waiters that may now dial because their key is under
// MaxTotalPerKey, reserving a slot for each, and returns them linked
// through next. Waiters of a multiplexing key for whom a stream is coming
// (see streamSoonLocked) keep waiting: one dial serves many of them.
func (p *Pool) wakeLocked(kp *keyPool) *request {
	var head, tail *request
	for kp.nWait > 0 && !p.closed && !p.streamSoonLocked(kp) && (p.cfg.MaxTotalPerKey == 0 || kp.total < p.cfg.MaxTotalPerKey) {
		r := kp.popWaiter()
		kp.total++
		kp.dialing++
		if tail == nil {
			head = r
		} else {
			tail.next = r
		}
		tail = r
	}
	return head
}

func (p *Pool) startDials(rs *request) {
	for rs != nil {
		r := rs
		rs, r.next = r.next, nil
		p.startDial(r, false)
	}
}

func (p *Pool) tooOld(pc *Conn, now int64) bool {
	return p.cfg.MaxAge > 0 && now-pc.born >= int64(p.cfg.MaxAge)
}

// newConnLocked makes the Conn for a dial whose slot is reserved.
func (p *Pool) newConn(kp *keyPool) *Conn {
	return &Conn{kp: kp, born: p.now()}
}

// startDial dials for r, whose slot is reserved. inline says that r's
// callback may run on this goroutine if Config.Dial fails at once.
func (p *Pool) startDial(r *request, inline bool) {
	pc := p.newConn(r.kp)
	pc.owner = r
	p.mu.Lock()
	p.inc(r.kp, cDials)
	p.mu.Unlock()
	c, err := p.dial(r.ctx, r.kp.key, (*handler)(pc))
	if err != nil {
		p.mu.Lock()
		wake := p.dialFailedLocked(pc)
		p.mu.Unlock()
		r.fail(err, inline)
		p.startDials(wake)
		return
	}
	pc.setEngine(c)
	if r.ctx.Done() != nil {
		p.watchDial(r, pc, c)
	}
}

// watchDial ends pc's dial with the error of r's context if it ends
// before the connection opens. The engine watches the context only up to
// the TCP connect, and a TLS handshake or a proxy's CONNECT may follow
// before the pool sees the connection open: without this, a caller whose
// deadline passed then would wait for the handshake's own timeout.
func (p *Pool) watchDial(r *request, pc *Conn, c *engine.Conn) {
	ctx, l := r.ctx, c.Loop()
	stop := context.AfterFunc(ctx, func() {
		// On the loop, where the dial also ends (opened, closedByEngine):
		// pc is closed only if it is still being dialed for r.
		l.Post(func() {
			p.mu.Lock()
			dialing := p.dialingForLocked(pc, r)
			p.mu.Unlock()
			if dialing {
				c.CloseWithError(ctx.Err())
			}
		})
	})
	p.mu.Lock()
	if p.dialingForLocked(pc, r) {
		r.stopDial, stop = stop, nil // stopped when the dial ends
	}
	p.mu.Unlock()
	if stop != nil {
		stop() // the dial ended already
	}
}

// dialingForLocked reports whether pc is being dialed for r.
func (p *Pool) dialingForLocked(pc *Conn, r *request) bool {
	pc.mu.Lock()
	st := pc.state
	pc.mu.Unlock()
	return st == stDialing && pc.owner == r
}

// dialEndedLocked stops the watch of r's context over its dial.
func (r *request) dialEndedLocked() {
	if r.stopDial != nil {
		r.stopDial()
		r.stopDial = nil
	}
}

func (p *Pool) dialFailedLocked(pc *Conn) *request {
	kp := pc.kp
	pc.mu.Lock()
	pc.state = stDone
	pc.mu.Unlock()
	if pc.owner != nil {
		pc.owner.dialEndedLocked()
	}
	pc.owner = nil
	kp.dialing--
	p.inc(kp, cDialFailures)
	return p.finishLocked(pc)
}

// opened runs on the loop when a dial succeeded.
func (p *Pool) opened(pc *Conn) {
	if p.cfg.MaxAge > 0 {
		d := time.Duration(pc.born + int64(p.cfg.MaxAge) - p.now())
		pc.ageTimer = pc.c.Loop().AfterFunc(max(d, 0), func() { p.ageOut(pc) })
	}
	p.mu.Lock()
	kp := pc.kp
	kp.dialing--
	r, w := pc.owner, pc.warm
	pc.owner, pc.warm = nil, nil
	if r != nil {
		r.dialEndedLocked()
	}
	if p.closed {
		p.closeLocked(pc)
		p.mu.Unlock()
		if r != nil {
			r.fail(ErrPoolClosed, true)
		}
		if w != nil {
			w.done(false, ErrPoolClosed)
		}
		return
	}
	if r != nil {
		if !p.claimLocked(pc, r.h, p.now()) {
			// Closed already (by the dialer's layers, say): the dial failed.
			p.closeLocked(pc)
			p.mu.Unlock()
			r.fail(engine.ErrClosed, true)
			return
		}
		if kp.sharedSeen {
			kp.pendingShare++
		}
		p.mu.Unlock()
		r.deliver(pc)
		return
	}
	next := p.placeLocked(pc, p.now())
	// A Warm dial of a multiplexing key ended (dialing fell) and served
	// one waiter at most: the others queued for its streams dial.
	wake := p.wakeLocked(kp)
	p.mu.Unlock()
	p.startDials(wake)
	if next != nil {
		next.handoff(pc)
	}
	if w != nil {
		w.done(true, nil)
	}
}

// closedByEngine runs on the loop when a connection the pool holds (not
// checked out) closed. st is its state when OnClose began.
func (p *Pool) closedByEngine(pc *Conn, st state, err error) {
	p.mu.Lock()
	kp := pc.kp
	if st == stDialing {
		r, w := pc.owner, pc.warm
		pc.warm = nil
		wake := p.dialFailedLocked(pc)
		p.mu.Unlock()
		if r != nil {
			r.fail(err, true)
		}
		if w != nil {
			w.done(false, err)
		}
		p.startDials(wake)
		return
	}
	if pc.listed {
		p.unlinkLocked(pc)
	}
	if st == stIdle && !errors.Is(err, engine.ErrLocalClose) && !errors.Is(err, engine.ErrEngineClosed) {
		p.inc(kp, cPeerClosedIdle)
	}
	var wake *request
	pc.mu.Lock()
	switch pc.state {
	case stIdle, stReserved, stClosing:
		// A reserved one is noticed by its waiter, which tries again.
		pc.state = stDone
		pc.mu.Unlock()
		wake = p.finishLocked(pc)
	default:
		// stOut: a checkout raced OnClose's first look; the user's
		// Release finishes it. (A checkout skips closed connections, so
		// this happens only if Release already ran: stDone.)
		pc.mu.Unlock()
	}
	p.mu.Unlock()
	p.startDials(wake)
}

// unsolicited runs on the loop after bytes arrived on a connection the
// pool holds: it is closed at once and never handed out.
func (p *Pool) unsolicited(pc *Conn) {
	p.mu.Lock()
	p.inc(pc.kp, cUnsolicitedIdle)
	if pc.listed {
		p.unlinkLocked(pc)
	}
	pc.mu.Lock()
	if st := pc.state; st == stIdle || st == stReserved {
		pc.state = stClosing
	}
	pc.mu.Unlock()
	p.mu.Unlock()
	pc.c.Close()
}

// ageOut runs on the loop when a connection reaches MaxAge. An idle one
// closes; a shared one is in use, so it only stops taking new streams
// (listed means on the key's shared chain then, not in the idle lists)
// and closes when its sharer releases it.
func (p *Pool) ageOut(pc *Conn) {
	p.mu.Lock()
	pc.aged = true
	switch {
	case pc.shared:
		if pc.listed {
			p.inc(pc.kp, cExpired)
			p.unlistSharedLocked(pc)
			pc.limit = 0
		}
	case pc.listed:
		p.inc(pc.kp, cExpired)
		p.retireLocked(pc)
	}
	p.mu.Unlock()
}

// Close closes the idle connections, fails waiting requests with
// ErrPoolClosed and makes later requests fail with it. Connections in use
// are closed when released; dials in progress are closed when they
// connect, and their requests fail. Close does not wait for the sockets
// to close (the engine closes them on its loops); it is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for p.oldest != nil {
		p.retireLocked(p.oldest)
	}
	var failed *request
	for _, kp := range p.keys {
		for kp.nWait > 0 {
			r := kp.popWaiter()
			r.next = failed
			failed = r
		}
	}
	t := p.cleaner
	p.mu.Unlock()
	for failed != nil {
		r := failed
		failed, r.next = r.next, nil
		r.fail(ErrPoolClosed, false)
	}
	if t != nil {
		// Timer.Stop is only safe on the loop: after Engine.Close it
		// would index the emptied timer heap. Post fails once the loop
		// has stopped, and then there is nothing to stop.
		p.e.Loop(0).Post(func() { t.Stop() })
	}
	return nil
}
