// Package pool is the connection manager that the protocols above the
// engine (HTTP/1.1, Redis, your own) use to get a ready connection and give
// it back.
//
// # Keys
//
// A Key holds everything that shapes a connection: network, address, TLS
// config (by identity) and its ALPN list, proxy. Connections are pooled per
// key, and two keys that differ in any field never share one.
//
// # Getting and giving back
//
// Request returns a ready connection (dialed, TLS done: Config.Dial calls
// OnOpen only then) with the caller's handler installed; RequestAsync does
// the same without blocking and without a goroutine per waiting request.
// Reuse is LIFO: the most recently released connection goes out first.
// When a key has MaxTotalPerKey connections, requests wait in a FIFO queue:
// a released connection goes straight to the oldest waiter, and a closed
// one lets the oldest waiter dial. A wait that outlives its context fails
// with a *WaitError (errors.Is ErrPoolWaitTimeout on a deadline).
//
// Release(pc, reusable) gives a connection back. This is rule 5 of the
// design: a connection goes back to the pool only when it is clean. The
// caller alone can tell, so reusable must be false unless the whole
// response was read, its framing was valid, the whole request was sent and
// neither side asked to close. The pool adds the checks it can make
// itself: a connection that has closed, passed MaxAge, or is released
// after Close, or whose key already holds MaxIdlePerKey idle connections,
// is closed instead. A dirty connection in the pool is worse than no
// connection: the next user would read the previous user's leftovers as
// its own response.
//
// Expiry is checked at checkout, so a connection idle for IdleTimeout is
// never handed out, and by a cleaner: a timer on engine loop 0, armed only
// while idle connections exist, that closes expired ones so that their
// sockets do not linger. No goroutine sleeps for it.
//
// # Watching idle connections
//
// The handler the pool gives Config.Dial stays installed for the
// connection's whole life, receiving what the dialer's layers (TLS,
// proxy tunnel) deliver: plaintext, and OnOpen once ready. While the
// connection is checked out it forwards every event to the user's handler;
// while the pool holds it, it watches. If the peer closes an idle
// connection (the stale keep-alive that servers close after their own idle
// timeout) or sends bytes nobody asked for (an HTTP 408 before closing),
// the connection is removed and closed at once, and counted.
//
// The race between a checkout and such an event is decided by the Conn's
// own lock: the loop marks the connection bad in the same critical section
// in which it sees that the pool holds it, and a checkout skips bad and
// closed connections under that lock. So a connection that received
// unsolicited bytes or a close while pooled is never handed out; bytes the
// loop sees after the checkout belong to the new user, as they would a
// microsecond later. A protocol whose peer never speaks first (HTTP/1.1)
// should treat bytes that arrive before its request was written as a
// protocol error; on a reused connection that is the retryable case.
//
// Replace a checked-out connection's handler with Conn.SetHandler, never
// with the engine connection's SetHandler, which would bypass the pool (and
// any TLS layer under it).
//
// # Where callbacks run
//
// Handlers run on the connection's loop goroutine, as with the engine. The
// RequestAsync callback runs on the caller's goroutine when the answer is
// immediate, and on a loop goroutine otherwise (see RequestAsync). Neither
// may block.
//
// # Costs
//
// Request and Release of an idle connection allocate nothing: the Conn is
// one per engine connection and the idle lists are intrusive. Dialing and
// waiting allocate a small request. The pool takes one mutex per
// operation, and each event of a checked-out connection costs one
// uncontended per-connection lock on its way to the user's handler.
//
// # Statistics
//
// Stats, KeyStats and StatsByKey return counters (dials, failures, reuses,
// waits, wait time-outs, expired, closed by the peer while idle, evicted...)
// and gauges; Publish exports them through expvar.
package pool
