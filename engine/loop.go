package engine

import (
	"sync"
	"sync/atomic"
	"time"
)

// Loop is one event loop: a goroutine that owns a set of connections and
// runs all of their callbacks and timers.
type Loop struct {
	e  *Engine
	id int
	be loopBackend

	buf []byte // the read buffer shared by all of this loop's connections

	// mu guards the queues below and the timer heap.
	mu       sync.Mutex
	tasks    []func()
	connq    []*Conn // connections with pending ops (see Conn.ops)
	timers   timerHeap
	stopping bool

	// sleeping is true while the loop waits in the poller; notified
	// collapses concurrent wake-ups into one. A backend that runs
	// callbacks from within wait calls awake first (see there).
	sleeping atomic.Bool
	notified atomic.Bool

	// Loop-goroutine only.
	spareTasks []func()
	spareConnq []*Conn
	readyq     []*Conn // connections with unread input left by the read cap
	dialing    []*Conn // dials in progress, with Conn.dialIdx their index
	nextGen    uint32
	now        int64 // monotonic clock, refreshed once per iteration
	reading    *Conn // the connection whose read is being delivered

	ctr loopCounters
}

type loopCounters struct {
	open, dialing, accepted, dialed   atomic.Int64
	bytesIn, bytesOut, queued, closed atomic.Int64
	failRefused, failTimeout, failDNS atomic.Int64
	failCanceled, failOther           atomic.Int64
}

// loopBackend is the part of a loop that differs between epoll/kqueue and
// Go's net package: how it waits and how it is woken.
type loopBackend interface {
	// wait blocks until I/O, a wake-up or the timeout (ms; -1 none),
	// dispatching I/O events to the loop.
	wait(timeoutMs int) error
	wake()
	close()
	// Per-connection operations.
	startConnect(c *Conn, ap addrPort) error
	flush(c *Conn)
	closeSocket(c *Conn)
	shutdownWrite(c *Conn) error
	resumeRead(c *Conn)
	sendUrgent(c *Conn, b []byte) (int, error)
	localAddr(c *Conn) addrPort
}

func newLoop(e *Engine, id int) (*Loop, error) {
	l := &Loop{e: e, id: id, buf: make([]byte, e.cfg.ReadBufferSize)}
	var err error
	if e.backend == BackendPoll {
		l.be, err = newPollBackend(l)
	} else {
		l.be = newNetBackend(l)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// ID returns the loop's index in its engine.
func (l *Loop) ID() int { return l.id }

// Engine returns the loop's engine.
func (l *Loop) Engine() *Engine { return l.e }

// Post runs f on the loop's goroutine. It reports false, and f never
// runs, if the loop has stopped.
func (l *Loop) Post(f func()) bool { return l.post(f) }

func (l *Loop) post(f func()) bool {
	l.mu.Lock()
	if l.stopping {
		l.mu.Unlock()
		return false
	}
	l.tasks = append(l.tasks, f)
	l.mu.Unlock()
	l.wakeIfSleeping()
	return true
}

// schedule queues op for c and wakes the loop if it sleeps. Ops collapse:
// a connection is in connq at most once however many ops are pending.
func (l *Loop) schedule(c *Conn, op uint32) {
	for {
		old := c.ops.Load()
		if old&op == op {
			return // already pending
		}
		if c.ops.CompareAndSwap(old, old|op) {
			if old&opMask != 0 {
				return // queued by whoever set the first bit
			}
			break
		}
	}
	l.mu.Lock()
	l.connq = append(l.connq, c)
	l.mu.Unlock()
	l.wakeIfSleeping()
}

// wakeIfSleeping must follow the append to a queue: the loop sets sleeping
// before it re-checks the queues, so either the loop sees the new item or
// this sees sleeping (both accesses are sequentially consistent).
func (l *Loop) wakeIfSleeping() {
	if l.sleeping.Load() && !l.notified.Swap(true) {
		l.be.wake()
	}
}

// awake tells the loop that its backend has stopped waiting and is about
// to dispatch events. Callbacks write, and a write queues an op: without
// this, each loop iteration that ran a callback would wake itself through
// the poller (a system call to signal, an event and another to consume
// it) for work that the drain after dispatch runs anyway. Loop only.
//
// It also reads the clock: the events it precedes are dispatched before
// wait returns to run, and the reads among them stamp the connections'
// idle timers with l.now, which must be the time they happened, not the
// time the loop went to sleep.
func (l *Loop) awake() {
	l.sleeping.Store(false)
	l.now = l.e.now()
}

func (l *Loop) stop() {
	l.mu.Lock()
	already := l.stopping
	l.stopping = true
	l.mu.Unlock()
	if !already {
		l.be.wake()
	}
}

func (l *Loop) run() {
	defer l.e.wg.Done()
	for {
		l.now = l.e.now()
		timeout := l.timeoutMs()
		l.sleeping.Store(true)
		l.mu.Lock()
		busy := len(l.tasks) > 0 || len(l.connq) > 0 || l.stopping
		l.mu.Unlock()
		if busy || len(l.readyq) > 0 {
			timeout = 0
		}
		l.be.wait(timeout)
		l.sleeping.Store(false)
		l.notified.Store(false)
		l.now = l.e.now()
		l.continueReads()
		l.runTimers()
		if l.drain() {
			l.shutdown()
			return
		}
	}
}

// drain runs queued tasks and connection ops. A few rounds let work that
// callbacks queue (a write from OnData) go out in the same iteration; the
// rest waits for the next one so I/O is never starved. It reports whether
// the loop must stop.
func (l *Loop) drain() (stop bool) {
	for round := 0; round < 4; round++ {
		l.mu.Lock()
		stop = l.stopping
		if len(l.tasks) == 0 && len(l.connq) == 0 {
			l.mu.Unlock()
			return stop
		}
		tasks, connq := l.tasks, l.connq
		l.tasks, l.connq = l.spareTasks[:0], l.spareConnq[:0]
		l.mu.Unlock()
		for i, f := range tasks {
			f()
			tasks[i] = nil
		}
		for i, c := range connq {
			c.runOps()
			connq[i] = nil
		}
		l.spareTasks, l.spareConnq = shrinkEmpty(tasks), shrinkEmpty(connq)
	}
	return stop
}

// shutdown closes everything the loop owns. Tasks posted before stop still
// run (a Dial then fails with ErrEngineClosed), so every OnClose fires.
func (l *Loop) shutdown() {
	for {
		l.mu.Lock()
		tasks, connq := l.tasks, l.connq
		l.tasks, l.connq = nil, nil
		l.mu.Unlock()
		if len(tasks) == 0 && len(connq) == 0 {
			break
		}
		for _, f := range tasks {
			f()
		}
		for _, c := range connq {
			c.runOps()
		}
	}
	for len(l.dialing) > 0 {
		l.dialing[len(l.dialing)-1].closeWith(ErrEngineClosed)
	}
	l.closeAll(ErrEngineClosed)
	l.mu.Lock()
	for _, t := range l.timers {
		t.idx = -1 // a later Stop must see the timer as not pending
	}
	l.timers = nil
	l.mu.Unlock()
	l.be.close()
}

// shrink returns s, or a copy in a smaller array once s uses less than a
// quarter of a large one: a burst (ten thousand dials at once, each with a
// timer and a task) must not leave every loop holding the memory of its
// busiest moment.
func shrink[T any](s []T) []T {
	if cap(s) <= 64 || len(s) >= cap(s)/4 {
		return s
	}
	return append(make([]T, 0, 2*len(s)), s...)
}

// shrinkEmpty empties a queue that just carried len(s) items for reuse,
// in a smaller array if they used less than a quarter of a large one.
func shrinkEmpty[T any](s []T) []T {
	if cap(s) <= 64 || len(s) >= cap(s)/4 {
		return s[:0]
	}
	return make([]T, 0, 2*len(s))
}

func (l *Loop) continueReads() {
	if len(l.readyq) == 0 {
		return
	}
	q := l.readyq
	l.readyq = nil
	for _, c := range q {
		c.inReadyq = false
		if c.state == stateOpen {
			l.be.resumeRead(c)
		}
	}
}

func (l *Loop) timeoutMs() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.timers) == 0 {
		return -1
	}
	d := l.timers[0].when - l.now
	if d <= 0 {
		return 0
	}
	ms := (d + int64(time.Millisecond) - 1) / int64(time.Millisecond)
	if ms > 1<<30 {
		ms = 1 << 30
	}
	return int(ms)
}
