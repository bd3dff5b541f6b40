package pool

import (
	"context"
	"sync"
)

// warmup tracks the dials of one Warm call.
type warmup struct {
	mu     sync.Mutex
	left   int
	opened int
	err    error
	ch     chan struct{}
}

func (w *warmup) done(ok bool, err error) {
	w.mu.Lock()
	if ok {
		w.opened++
	} else if w.err == nil {
		w.err = err
	}
	w.left--
	last := w.left == 0
	w.mu.Unlock()
	if last {
		close(w.ch)
	}
}

// Warm opens connections for key ahead of time, until the key holds n
// (in use, idle or being dialed), as far as MaxIdlePerKey and
// MaxTotalPerKey allow. The new connections go to waiting requests or to
// the idle stack. Warm blocks until its dials have finished, bounded by ctx
// and the engine's dial timeout, and reports how many it opened and the
// first dial error.
func (p *Pool) Warm(ctx context.Context, key Key, n int) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, ErrPoolClosed
	}
	kp := p.keyLocked(key)
	n = min(n, p.cfg.MaxIdlePerKey)
	if p.cfg.MaxTotalPerKey > 0 {
		n = min(n, p.cfg.MaxTotalPerKey)
	}
	want := n - kp.total
	if want <= 0 {
		p.mu.Unlock()
		return 0, nil
	}
	kp.total += want
	kp.dialing += want
	p.mu.Unlock()

	w := &warmup{left: want, ch: make(chan struct{})}
	for range want {
		pc := p.newConn(kp)
		pc.warm = w
		p.mu.Lock()
		p.inc(kp, cDials)
		p.mu.Unlock()
		c, err := p.dial(ctx, key, (*handler)(pc))
		if err != nil {
			p.mu.Lock()
			pc.warm = nil
			wake := p.dialFailedLocked(pc)
			p.mu.Unlock()
			p.startDials(wake)
			w.done(false, err)
			continue
		}
		pc.setEngine(c)
	}
	<-w.ch
	return w.opened, w.err
}
