package pool

import (
	"sync"
	"time"

	"github.com/egress-go/egress/engine"
)

// state is where a Conn is in its life. It changes only with both Pool.mu
// and Conn.mu held, so it may be read under either.
type state uint8

const (
	stDialing  state = iota // Config.Dial started, no OnOpen yet
	stIdle                  // in the idle lists, watched
	stReserved              // handed to a waiter that has not taken it yet, watched
	stOut                   // checked out: events go to the user's handler
	stClosing               // the pool closed it and waits for OnClose
	stDone                  // closed and no longer counted
)

// Conn is a pooled connection: one per engine connection, for the whole
// life of that connection, so handing it out again allocates nothing.
//
// Between Request and Release it belongs to the caller, whose handler
// receives the connection's events; Engine gives the engine connection to
// write to. Replace the handler with Conn.SetHandler, never with the engine
// connection's SetHandler: the pool stays installed under the dialer's
// layers (TLS, proxy) for the connection's whole life, which is how it
// watches idle connections and learns that one in use has closed.
//
// An idle connection pays for its Conn, so the struct is kept small (see
// TestConnSize): the Pool comes through the key, the creation time is the
// pool's clock, and the idle timestamp doubles as IdleTime once out.
type Conn struct {
	kp   *keyPool
	born int64 // p.now() at creation

	// Guarded by p.mu.
	kPrev, kNext *Conn // the key's idle stack (kNext is older)
	aPrev, aNext *Conn // the pool's idle list, oldest first
	// idleAt is p.now() when the connection went idle, while it is idle
	// or reserved; once checked out, how long it had been idle (IdleTime).
	// The two are never needed at once.
	idleAt int64
	owner  *request // dialing or reserved for
	warm   *warmup  // dialing for Warm
	uses   int32    // times checked out
	listed bool
	pooled bool // has been placed idle or handed over: not fresh
	reused bool // this checkout's answer to Reused
	aged   bool

	ageTimer *engine.Timer // loop goroutine only

	mu     sync.Mutex
	state  state
	closed bool // OnClose was seen
	bad    bool // bytes arrived while the pool held it
	// A multiplexed connection (see Share). Guarded by p.mu; they fill
	// what would be padding, so that Conn stays in its size class.
	shared  bool
	streams uint16         // streams in use
	limit   uint16         // streams allowed at once; 0 once retired
	c       *engine.Conn   // set once, by whoever comes first: Dial's return or OnOpen
	user    engine.Handler // while stOut
}

// Engine returns the engine connection, for writing to it and reading its
// addresses and counters.
func (pc *Conn) Engine() *engine.Conn { return pc.c }

// Key returns the key the connection was dialed for.
func (pc *Conn) Key() Key { return pc.kp.key }

// Created returns when the connection was requested from the dialer, by
// the pool's monotonic clock.
func (pc *Conn) Created() time.Time { return pc.kp.p.base.Add(time.Duration(pc.born)) }

// Reused reports whether this checkout came from the pool (an idle
// connection, or one released straight to a waiting request) rather than
// from a dial made for it. It is what an HTTP client needs for its retry
// rule (a pooled connection may have gone stale; a connection opened by
// Warm and never used counts as pooled for that reason) and for
// httptrace.GotConnInfo.Reused. Valid while the caller holds it.
func (pc *Conn) Reused() bool { return pc.reused }

// Uses returns how many times the connection has been handed out,
// counting this time.
func (pc *Conn) Uses() int { return int(pc.uses) }

// IdleTime returns how long the connection sat idle in the pool before this
// checkout (zero for a new one), as in httptrace.GotConnInfo.IdleTime.
func (pc *Conn) IdleTime() time.Duration { return time.Duration(pc.idleAt) }

// SetHandler replaces the handler that receives the connection's events,
// from the next event on. Safe from any goroutine, and the way to hand a
// connection's events to per-use state from outside the loop: the switch
// is ordered with the loop's dispatch, so the new handler never misses an
// event nor sees one meant for the old.
//
// It reports false, and changes nothing, unless the connection is checked
// out and still open: a connection whose OnClose already went to the
// previous handler gets no second one, so the caller must see the close
// itself (and should Release the connection as not reusable).
func (pc *Conn) SetHandler(h engine.Handler) bool {
	if h == nil {
		h = noHandler{}
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.state != stOut || pc.closed {
		return false
	}
	pc.user = h
	return true
}

// Release gives the connection back to its pool: Pool.Release(pc, reusable).
func (pc *Conn) Release(reusable bool) error { return pc.kp.p.Release(pc, reusable) }

// setEngine records the engine connection, from Dial's return or OnOpen,
// whichever comes first (OnOpen may run on the loop before Dial returns).
func (pc *Conn) setEngine(c *engine.Conn) {
	pc.mu.Lock()
	if pc.c == nil {
		pc.c = c
	}
	pc.mu.Unlock()
}

type noHandler struct{ engine.BaseHandler }

// handler is the engine.Handler the pool installs, through Config.Dial,
// for a connection's whole life. While the connection is checked out it
// forwards every event to the user's handler; otherwise it is the idle
// watcher. Its methods are not part of Conn's API, hence the separate type
// (a conversion, so no allocation).
type handler Conn

func (h *handler) OnOpen(c *engine.Conn) {
	pc := (*Conn)(h)
	pc.setEngine(c)
	pc.mu.Lock()
	st, u := pc.state, pc.user
	pc.mu.Unlock()
	switch st {
	case stDialing:
		pc.kp.p.opened(pc)
	case stOut:
		// engine.Conn.StartLayer (TLS inside a tunnel, say) runs OnOpen
		// again when its layer is ready: that is the user's business.
		u.OnOpen(c)
	}
}

func (h *handler) OnData(c *engine.Conn, b []byte) {
	pc := (*Conn)(h)
	pc.mu.Lock()
	if pc.state == stOut {
		u := pc.user
		pc.mu.Unlock()
		u.OnData(c, b)
		return
	}
	// Bytes that nobody asked for: the peer is confused, or it is saying
	// goodbye (an HTTP 408 before closing). Marking the connection bad
	// under pc.mu, in the same critical section that saw it was not
	// checked out, is what keeps a checkout from winning the race: a
	// checkout takes pc.mu too and skips bad connections.
	first := !pc.bad
	pc.bad = true
	pc.mu.Unlock()
	if first {
		pc.kp.p.unsolicited(pc)
	}
}

func (h *handler) OnWritten(c *engine.Conn, n int) {
	pc := (*Conn)(h)
	pc.mu.Lock()
	if pc.state == stOut {
		u := pc.user
		pc.mu.Unlock()
		u.OnWritten(c, n)
		return
	}
	pc.mu.Unlock()
}

func (h *handler) OnClose(c *engine.Conn, err error) {
	pc := (*Conn)(h)
	if pc.ageTimer != nil {
		pc.ageTimer.Stop() // on the loop: safe even while the engine shuts down
	}
	pc.mu.Lock()
	pc.closed = true
	st := pc.state
	u := pc.user
	pc.mu.Unlock()
	if st == stOut {
		// The user learns it; the slot is freed when it releases the conn.
		u.OnClose(c, err)
		return
	}
	pc.kp.p.closedByEngine(pc, st, err)
}
