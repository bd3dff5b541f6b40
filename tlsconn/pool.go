package tlsconn

import (
	"sync"
	"sync/atomic"
)

// DefaultMaxHandshakes is the default bound on handshakes in progress at
// once, per side (client connections and server connections have separate
// pools, so that clients that stall a server cannot starve its dials).
//
// A handshake worker spends most of its life parked, waiting for the
// peer's next flight, not computing: the bound is about memory and about
// how many handshakes may wait on the network at once. At 256, a full
// handshake of two round trips over 50 ms links still completes about
// 2,500 times a second, more than two cores can sign and verify; on
// loopback the extra goroutines cost nothing, since they only run when
// bytes arrive. Use SetMaxHandshakes to change it.
const DefaultMaxHandshakes = 256

// SetMaxHandshakes sets how many handshakes may run at once on each side
// and returns the previous bound (of the client side); n < 1 means 1.
// Handshakes beyond it wait in a queue, within their handshake timeout.
func SetMaxHandshakes(n int) (previous int) {
	serverPool.setMax(n)
	return clientPool.setMax(n)
}

// pool runs handshakes on goroutines that it starts on demand, up to the
// bound, and that exit as soon as the queue is empty: an idle process has
// no handshake goroutine at all.
type pool struct {
	max atomic.Int32 // 0 means DefaultMaxHandshakes

	mu      sync.Mutex
	queue   []*handshake
	head    int
	running int
	peak    int // most workers ever running at once (for tests)
}

var (
	clientPool pool
	serverPool pool
)

func (p *pool) submit(hs *handshake) {
	p.mu.Lock()
	if len(p.queue) == cap(p.queue) && p.head >= len(p.queue)/2 {
		// Under sustained load the queue is never empty when a worker
		// looks (see work), so the slots before head are reused here
		// instead of growing the array for as long as the load lasts.
		n := copy(p.queue, p.queue[p.head:])
		clear(p.queue[n:])
		p.queue, p.head = p.queue[:n], 0
	}
	p.queue = append(p.queue, hs)
	start := p.running < p.limit()
	if start {
		p.running++
		p.peak = max(p.peak, p.running)
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

func (p *pool) work() {
	for {
		p.mu.Lock()
		if p.head == len(p.queue) {
			if cap(p.queue) > 1024 {
				p.queue = nil // let a burst's backing array go
			} else {
				p.queue = p.queue[:0]
			}
			p.head = 0
			p.running--
			p.mu.Unlock()
			return
		}
		hs := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		p.mu.Unlock()
		hs.run()
	}
}

// stats reports the workers running now and the most ever (for tests).
func (p *pool) stats() (running, peak int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running, p.peak
}

func (p *pool) limit() int {
	if n := int(p.max.Load()); n > 0 {
		return n
	}
	return DefaultMaxHandshakes
}

func (p *pool) setMax(n int) (previous int) {
	previous = p.limit()
	p.max.Store(int32(max(n, 1)))
	return previous
}
