package engine

import (
	"container/heap"
	"time"
)

// Timer is a one-shot timer whose function runs on a loop's goroutine.
type Timer struct {
	l    *Loop
	when int64
	f    func()
	idx  int // index in the heap; -1 when not scheduled
}

// AfterFunc runs f on the loop after d. It may be called from any
// goroutine. The timer's resolution is about a millisecond.
func (l *Loop) AfterFunc(d time.Duration, f func()) *Timer {
	t := &Timer{l: l, f: f, idx: -1}
	t.Reset(d)
	return t
}

// Stop prevents the timer from firing. It reports whether it was pending.
func (t *Timer) Stop() bool {
	l := t.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.idx < 0 {
		return false
	}
	heap.Remove(&l.timers, t.idx)
	return true
}

// Reset makes the timer fire d from now (from when it runs, if called on
// the loop). It reports whether the timer was pending.
func (t *Timer) Reset(d time.Duration) bool {
	l := t.l
	when := l.e.now() + int64(d)
	l.mu.Lock()
	if l.stopping {
		l.mu.Unlock()
		return false
	}
	pending := t.idx >= 0
	t.when = when
	if pending {
		heap.Fix(&l.timers, t.idx)
	} else {
		heap.Push(&l.timers, t)
	}
	first := t.idx == 0
	l.mu.Unlock()
	if first {
		l.wakeIfSleeping()
	}
	return pending
}

func (l *Loop) runTimers() {
	for {
		l.mu.Lock()
		if len(l.timers) == 0 || l.timers[0].when > l.now {
			l.mu.Unlock()
			return
		}
		t := heap.Pop(&l.timers).(*Timer)
		l.mu.Unlock()
		t.f()
	}
}

type timerHeap []*Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when < h[j].when }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.idx = -1
	*h = shrink(old[:n-1])
	return t
}
