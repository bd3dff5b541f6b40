package pool

import (
	"math"

	"github.com/egress-go/egress/engine"
)

// Multiplexed connections. An HTTP/2 connection carries many requests at
// once, so it is never idle-stacked and handed to one user at a time: the
// user that checked it out and found it multiplexed calls Share, and from
// then on checkouts of its key take a stream of it (up to its limit)
// before they take an idle connection or dial. Its handler stays the
// sharer's for the rest of its life; the streams' users reach it through
// Handler. A stream is given back with ReleaseStream, the connection
// itself with Release once it is closing.
//
// While shared, a connection is out of the idle lists, so their links
// (kPrev, kNext) chain the key's shared connections instead, and listed
// says it is on that chain.

// assumedStreams is how many requests a dial of a key known to multiplex
// is expected to serve: requests beyond it dial their own connection
// rather than wait for that one. HTTP/2 servers allow at least 100 streams
// as a rule (RFC 9113 §6.5.2 recommends no less).
const assumedStreams = 100

// Share makes pc, checked out by the caller, a multiplexed connection
// with room for limit streams at once, the caller's use being the first.
// Requests waiting for the key are served streams at once. It returns
// ErrNotInUse if pc is not checked out or is shared already.
func (pc *Conn) Share(limit int) error {
	p := pc.kp.p
	p.mu.Lock()
	pc.mu.Lock()
	ok := pc.state == stOut && !pc.shared
	pc.mu.Unlock()
	if !ok {
		p.mu.Unlock()
		return ErrNotInUse
	}
	kp := pc.kp
	pc.shared, pc.streams, pc.limit = true, 1, clampStreams(limit)
	pc.reused = true // every later stream is a reuse; the sharer read its own answer already
	kp.nShared++
	kp.streams++
	kp.sharedSeen = true
	if kp.pendingShare > 0 {
		kp.pendingShare--
	}
	if pc.aged || p.tooOld(pc, p.now()) {
		// Past MaxAge already: it takes no other stream (see ageOut).
		p.inc(kp, cExpired)
		pc.aged, pc.limit = true, 0
		wake := p.wakeLocked(kp)
		p.mu.Unlock()
		p.startDials(wake)
		return nil
	}
	pc.kPrev, pc.kNext = nil, kp.sTop
	if kp.sTop != nil {
		kp.sTop.kPrev = pc
	}
	kp.sTop = pc
	pc.listed = true
	served := p.serveWaitersLocked(pc)
	// Waiters queued for this connection's streams (streamSoonLocked)
	// that its limit left out dial now, rather than wait for a stream
	// that may never be freed.
	wake := p.wakeLocked(kp)
	p.mu.Unlock()
	deliverStreams(served, pc)
	p.startDials(wake)
	return nil
}

// Shared reports whether pc is a multiplexed connection: the checkout is
// one of its streams, to give back with ReleaseStream.
func (pc *Conn) Shared() bool {
	p := pc.kp.p
	p.mu.Lock()
	defer p.mu.Unlock()
	return pc.shared
}

// Handler returns the handler receiving pc's events: for a multiplexed
// connection, the one its sharer installed.
func (pc *Conn) Handler() engine.Handler {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.user
}

// SetStreamLimit changes how many streams pc allows at once (an HTTP/2
// server's SETTINGS_MAX_CONCURRENT_STREAMS). Streams over a lowered limit
// are not taken back; waiting requests are served if it rose.
func (pc *Conn) SetStreamLimit(limit int) {
	p := pc.kp.p
	p.mu.Lock()
	if !pc.shared || !pc.listed {
		p.mu.Unlock()
		return
	}
	pc.limit = clampStreams(limit)
	served := p.serveWaitersLocked(pc)
	p.mu.Unlock()
	deliverStreams(served, pc)
}

// Retire stops pc from taking new streams (an HTTP/2 GOAWAY, or a
// connection about to close); the streams in use carry on. Give the
// connection back with Release when it is done.
func (pc *Conn) Retire() {
	p := pc.kp.p
	p.mu.Lock()
	if pc.shared && pc.listed {
		p.unlistSharedLocked(pc)
		pc.limit = 0
	}
	p.mu.Unlock()
}

// ReleaseStream gives back a stream of a multiplexed connection; a waiting
// request may take it at once.
func (pc *Conn) ReleaseStream() {
	p := pc.kp.p
	p.mu.Lock()
	if !pc.shared || pc.streams == 0 {
		p.mu.Unlock()
		return
	}
	pc.streams--
	pc.kp.streams--
	served := p.serveWaitersLocked(pc)
	p.mu.Unlock()
	deliverStreams(served, pc)
}

// Streams reports how many streams of pc are in use.
func (pc *Conn) Streams() int {
	p := pc.kp.p
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(pc.streams)
}

func clampStreams(n int) uint16 {
	return uint16(min(max(n, 0), math.MaxUint16))
}

// takeStreamLocked takes a stream of one of kp's multiplexed connections
// that has room, or returns nil.
func (p *Pool) takeStreamLocked(kp *keyPool) *Conn {
	for pc := kp.sTop; pc != nil; pc = pc.kNext {
		if pc.streams < pc.limit {
			pc.streams++
			kp.streams++
			p.inc(kp, cStreams)
			return pc
		}
	}
	return nil
}

// streamSoonLocked reports whether a request that found no free stream
// should wait for one rather than dial: when the user asked for that and
// the key has multiplexed connections, or when a connection being dialed
// (or just handed to its first user) for a key known to multiplex will
// most likely bring room for it.
func (p *Pool) streamSoonLocked(kp *keyPool) bool {
	if p.cfg.WaitForStreams && kp.nShared > 0 {
		return true
	}
	coming := kp.dialing + kp.pendingShare
	return kp.sharedSeen && coming > 0 && kp.nWait < coming*assumedStreams
}

// serveWaitersLocked takes streams of pc for waiting requests while it
// has room, returning them linked through next.
func (p *Pool) serveWaitersLocked(pc *Conn) *request {
	kp := pc.kp
	var head, tail *request
	for pc.listed && pc.streams < pc.limit && kp.nWait > 0 {
		r := kp.popWaiter()
		pc.streams++
		kp.streams++
		p.inc(kp, cStreams)
		if tail == nil {
			head = r
		} else {
			tail.next = r
		}
		tail = r
	}
	return head
}

// deliverStreams hands pc to requests served a stream of it, each on pc's
// loop for a callback (so that none runs on the goroutine that freed the
// stream, which may hold the user's locks).
func deliverStreams(rs *request, pc *Conn) {
	for rs != nil {
		r := rs
		rs, r.next = r.next, nil
		if r.ch != nil {
			r.ch <- result{pc: pc}
			continue
		}
		if !pc.c.Loop().Post(func() { r.cb.GotConn(pc, nil) }) {
			r.cb.GotConn(nil, engine.ErrEngineClosed)
		}
	}
}

// unlistSharedLocked takes pc off its key's chain of shared connections.
func (p *Pool) unlistSharedLocked(pc *Conn) {
	kp := pc.kp
	if pc.kPrev != nil {
		pc.kPrev.kNext = pc.kNext
	} else {
		kp.sTop = pc.kNext
	}
	if pc.kNext != nil {
		pc.kNext.kPrev = pc.kPrev
	}
	pc.kPrev, pc.kNext = nil, nil
	pc.listed = false
}

// unshareLocked forgets that pc was multiplexed, as its sharer releases
// it to be closed.
func (p *Pool) unshareLocked(pc *Conn) {
	kp := pc.kp
	if pc.listed {
		p.unlistSharedLocked(pc)
	}
	kp.nShared--
	kp.streams -= int(pc.streams)
	pc.shared, pc.streams, pc.limit = false, 0, 0
}
