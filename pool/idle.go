package pool

import (
	"time"

	"github.com/egress-go/egress/engine"
)

// Idle connections sit in two intrusive lists at once, so that nothing is
// allocated as they come and go:
//
//   - their key's stack (kp.top ... kp.bottom), for LIFO reuse: the most
//     recently used connection is the one most likely still alive, with a
//     warm congestion window, and the others age out at the bottom;
//   - the pool's list (p.oldest ... p.newest) in release order, for the
//     global MaxIdle eviction and for the cleaner, which only ever looks
//     at its head.

// pushIdleLocked makes pc the top of its key's stack and the newest of
// the pool's list.
func (p *Pool) pushIdleLocked(pc *Conn) {
	kp := pc.kp
	pc.kPrev, pc.kNext = nil, kp.top
	if kp.top != nil {
		kp.top.kPrev = pc
	} else {
		kp.bottom = pc
	}
	kp.top = pc
	kp.nIdle++

	pc.aPrev, pc.aNext = p.newest, nil
	if p.newest != nil {
		p.newest.aNext = pc
	} else {
		p.oldest = pc
	}
	p.newest = pc
	p.nIdle++
	pc.listed = true
}

// unlinkLocked removes pc from both lists.
func (p *Pool) unlinkLocked(pc *Conn) {
	kp := pc.kp
	if pc.kPrev != nil {
		pc.kPrev.kNext = pc.kNext
	} else {
		kp.top = pc.kNext
	}
	if pc.kNext != nil {
		pc.kNext.kPrev = pc.kPrev
	} else {
		kp.bottom = pc.kPrev
	}
	kp.nIdle--

	if pc.aPrev != nil {
		pc.aPrev.aNext = pc.aNext
	} else {
		p.oldest = pc.aNext
	}
	if pc.aNext != nil {
		pc.aNext.aPrev = pc.aPrev
	} else {
		p.newest = pc.aPrev
	}
	p.nIdle--
	pc.kPrev, pc.kNext, pc.aPrev, pc.aNext = nil, nil, nil, nil
	pc.listed = false
}

// retireLocked unlinks an idle connection and closes it.
func (p *Pool) retireLocked(pc *Conn) {
	p.unlinkLocked(pc)
	p.closeLocked(pc)
}

// takeIdleLocked checks out to h the most recently released live
// connection of kp, closing the expired ones it meets on the way.
// Connections whose watcher has seen a close or stray bytes but not yet
// taken p.mu are dropped too: the watcher counts them and OnClose finishes
// them.
func (p *Pool) takeIdleLocked(kp *keyPool, h engine.Handler) *Conn {
	if kp.top == nil {
		return nil
	}
	now := p.now()
	for kp.top != nil {
		pc := kp.top
		if p.cfg.IdleTimeout > 0 && now-pc.idleAt >= int64(p.cfg.IdleTimeout) || pc.aged || p.tooOld(pc, now) {
			p.inc(kp, cExpired)
			p.retireLocked(pc)
			continue
		}
		p.unlinkLocked(pc)
		if p.claimLocked(pc, h, now) {
			return pc
		}
		p.closeLocked(pc)
	}
	return nil
}

// armCleanerLocked schedules a sweep for when the oldest idle connection
// expires, if none is pending. The cleaner is a timer on loop 0: no
// goroutine sleeps for it, and it is armed only while idle connections
// exist. A little slack lets one sweep take a batch; checkout enforces the
// exact timeout meanwhile.
func (p *Pool) armCleanerLocked() {
	if p.armed || p.oldest == nil || p.cfg.IdleTimeout <= 0 || p.closed || p.noCleaner {
		return
	}
	slack := max(p.cfg.IdleTimeout/32, time.Millisecond)
	d := max(time.Duration(p.oldest.idleAt-p.now())+p.cfg.IdleTimeout+slack, 0)
	p.armed = true
	if p.cleaner == nil {
		p.cleaner = p.e.Loop(0).AfterFunc(d, p.sweep)
	} else {
		p.cleaner.Reset(d)
	}
}

// sweep runs on loop 0: it closes the idle connections that expired, and
// re-arms for the next one.
func (p *Pool) sweep() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = false
	if p.closed {
		return
	}
	now := p.now()
	for pc := p.oldest; pc != nil && now-pc.idleAt >= int64(p.cfg.IdleTimeout); pc = p.oldest {
		p.inc(pc.kp, cExpired)
		p.retireLocked(pc)
	}
	p.armCleanerLocked()
}
