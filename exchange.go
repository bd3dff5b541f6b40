package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/pool"
)

// sink is where a response goes: to a blocked RoundTrip (pull) or to an
// Exchange's callbacks (push). Its methods run on the connection's loop,
// except done for a request that never got a connection.
type sink interface {
	// attached: a connection was found and the request head queued for
	// the given attempt (exchange.attempt when gotConn began: by the time
	// attached runs, that attempt may have ended and another begun).
	attached(x *exchange, attempt uint32)
	// writable: the connection can take more request body bytes.
	writable(x *exchange)
	informational(x *exchange, h responseHead)
	head(x *exchange, h responseHead)
	body(x *exchange, b []byte)
	trailers(x *exchange, h responseHead)
	// delivered: the loop has handed over all it read for now, and will
	// call nothing more until more bytes come; a sink that held back
	// waking its caller wakes it.
	delivered(x *exchange)
	// done ends the exchange. retry says the transport may replay the
	// request on another connection (DESIGN rule 6); a sink that can
	// rewind the body does so and calls start again.
	done(x *exchange, err error, retry bool)
}

// carrier is what serves an exchange once the pool has given it a
// connection: the HTTP/1.1 connection itself (h1conn), or a stream of a
// multiplexed one. The exchange drives it through these methods and never
// needs to know which protocol it speaks.
type carrier interface {
	loop() *engine.Loop
	// multiplexed reports whether the connection carries other exchanges
	// at the same time: flow control is then per stream, never the
	// socket's.
	multiplexed() bool

	// Loop only. Each checks that the carrier still serves x, since a
	// request posted from another goroutine may arrive late.

	// abort gives up on x (timeout, cancellation, a body closed early):
	// the exchange ends with err and no retry.
	abort(x *exchange, err error)
	// pause and resume hold and release the response's flow
	// (back-pressure) without ending it.
	pause(x *exchange)
	resume(x *exchange)
	// drained: x's body reader took n bytes (see bodyFlow).
	drained(x *exchange, n int)
	// pullBody: the response body goes to a pipe whose reader reports
	// what it consumed (drained), rather than to callbacks.
	pullBody()

	// Any goroutine, with x.mu held and x.cur == this carrier.

	// sendBody queues p, part of a streamed request body, framing it as
	// the protocol needs; last marks the end (p may then be empty).
	sendBody(p []byte, last bool) error
	// sendRoom is how many body bytes can be queued now.
	sendRoom() int
}

// exchange is one request in flight, from asking the pool for a connection
// to the end of the response. Both APIs drive the same exchange.
type exchange struct {
	t   *Transport
	ctx context.Context
	snk sink

	// The request.
	method        string
	target        string // request-target as sent over HTTP/1.1
	host          string // Host field
	key           pool.Key
	fields        []HeaderField
	header        http.Header
	body          []byte // a body known up front, sent with the head
	contentLength int64
	trailer       http.Header // sent after a chunked body (HTTP/1.1), read when it ends
	trace         *httptrace.ClientTrace
	streamed      bool // the body is pumped by a RoundTrip goroutine
	expect100     bool
	reqClose      bool

	// keep: an Exchange keeps protocol state between sends (h1), so that
	// sending the same request again neither encodes it nor takes
	// per-connection state from a pool. The connection itself holds none
	// of it once released.
	keep bool
	h1   h1keep
	h2   *h2stream // the exchange's stream over HTTP/2, made by its first attach there

	// While attached to a connection.
	conn     carrier                     // loop-owned
	loopAt   atomic.Pointer[engine.Loop] // conn's loop, for Exchange.Resume from any goroutine
	direct   *bodyPipe                   // loop: the response body's pipe, when its blocking reader may read the socket itself (HTTP/1.1)
	pc       *pool.Conn
	reused   bool
	gotByte  bool
	aborted  error // set on the loop when the transport gave up (timeout, cancel)
	retries  int
	bodySent atomic.Bool   // the whole request body was queued
	attempt  atomic.Uint32 // bumped by the sink before each try

	stopCtx  func() bool // unregisters the context watch
	ctxFired bool        // the watch ran: its goroutine may still hold x

	// inHand is, while the sink's head runs over HTTP/1.1, the number of
	// bytes read after the head: a body of known length no longer than
	// that is all there, and ends in the same pass of the loop.
	inHand int

	// cur is the carrier serving the exchange, for the goroutines that act
	// on it from outside the loop: the context watch and a RoundTrip
	// pumping a request body. detach clears it under mu before the
	// connection goes back to the pool, so whoever holds mu and sees cur
	// set may still queue bytes on that connection.
	mu  sync.Mutex
	cur carrier
}

// start asks the pool for a connection; gotConn continues.
func (x *exchange) start() {
	x.gotByte, x.aborted, x.reused, x.pc, x.conn, x.direct = false, nil, false, nil, nil, nil
	x.bodySent.Store(!x.streamed)
	if x.stopCtx == nil && x.ctx.Done() != nil {
		x.stopCtx = context.AfterFunc(x.ctx, x.cancelled)
	}
	if x.trace != nil && x.trace.GetConn != nil {
		x.trace.GetConn(x.key.Addr)
	}
	x.t.pool.RequestTo(x.ctx, x.key, handler{}, x)
}

// GotConn attaches the exchange to the connection the pool found and
// writes the request (pool.Waiter). It runs on the pool's callback
// goroutine: the caller's, or a loop.
func (x *exchange) GotConn(pc *pool.Conn, err error) {
	if err != nil {
		x.end(err, false)
		return
	}
	attempt := x.attempt.Load()
	if h, ok := pc.Handler().(*h2conn); ok {
		x.attachH2(h, pc, attempt, false)
		return
	}
	// A connection the pool had idle speaks HTTP/1.1 (a multiplexed one is
	// never idle); a fresh one speaks what ALPN or the options chose.
	if !pc.Reused() && x.t.speaksH2(pc) {
		x.attachH2(newH2conn(x.t, pc), pc, attempt, true)
		return
	}
	x.attachH1(pc, attempt)
}

// attach records c as the carrier serving the exchange. Before the
// connection's events can reach c.
func (x *exchange) attach(c carrier, pc *pool.Conn) {
	x.conn, x.pc, x.reused = c, pc, pc.Reused()
	if !x.pulled() {
		x.loopAt.Store(c.loop()) // for Exchange.Resume only
	}
	if x.watched() {
		x.mu.Lock()
		x.cur = c
		x.mu.Unlock()
	}
}

// unattach clears the carrier; the caller gives the connection back.
// Loop, or before anything was written.
func (x *exchange) unattach() {
	x.conn, x.pc = nil, nil
	if !x.pulled() {
		x.loopAt.Store(nil)
	}
	if x.watched() {
		x.mu.Lock()
		x.cur = nil
		x.mu.Unlock()
	}
}

// traceWrote reports the connection and the written head to httptrace.
// The hooks run before the bytes reach the loop, so that they come before
// GotFirstResponseByte, which the loop calls.
func (x *exchange) traceWrote(c *engine.Conn, pc *pool.Conn) {
	t := x.trace
	if t == nil {
		return
	}
	if t.GotConn != nil {
		t.GotConn(httptrace.GotConnInfo{Conn: traceConn{c}, Reused: x.reused, WasIdle: x.reused, IdleTime: pc.IdleTime()})
	}
	if t.WroteHeaders != nil {
		t.WroteHeaders()
	}
	if !x.streamed && t.WroteRequest != nil {
		t.WroteRequest(httptrace.WroteRequestInfo{})
	}
}

// firstByte notes that the response has begun. Loop only.
func (x *exchange) firstByte() {
	if !x.gotByte {
		x.gotByte = true
		if t := x.trace; t != nil && t.GotFirstResponseByte != nil {
			t.GotFirstResponseByte()
		}
	}
}

// abort gives up on the exchange with err (timeout, cancellation, a body
// closed early) if c still serves it. Loop only.
func (x *exchange) abort(c carrier, err error) {
	if x.conn != c || c == nil {
		return
	}
	x.aborted = err
	c.abort(x, err)
}

// end finishes the exchange: the sink hears of it, and unless a retry
// follows, the context watch goes.
func (x *exchange) end(err error, retry bool) {
	if !retry && x.stopCtx != nil {
		x.ctxFired = !x.stopCtx()
		x.stopCtx = nil
	}
	x.snk.done(x, err, retry)
}

// pulled reports whether the response body goes to a blocking reader
// (RoundTrip) rather than to callbacks on the loop (an Exchange).
func (x *exchange) pulled() bool {
	_, ok := x.snk.(*roundTrip)
	return ok
}

// watched reports whether a goroutine other than the loop may act on the
// exchange's carrier, so that x.cur must be kept.
func (x *exchange) watched() bool { return x.stopCtx != nil || x.streamed }

// cancelled runs when the exchange's context ends: the loop aborts the
// exchange with the context's error. (While the exchange waits for a
// connection, the pool sees the context itself.)
func (x *exchange) cancelled() { x.abortAsync(x.ctx.Err()) }

// abortAsync asks the loop to abort the exchange with err, if it still
// holds a connection. Any goroutine.
func (x *exchange) abortAsync(err error) {
	x.mu.Lock()
	c := x.cur
	var l *engine.Loop
	if c != nil {
		l = c.loop() // under mu: once cur is cleared, the carrier may be recycled
	}
	x.mu.Unlock()
	if c != nil {
		l.Post(func() { x.abort(c, err) })
	}
}

// writeBody queues p, part of a streamed request body, on the exchange's
// carrier, reporting false if the exchange no longer holds one. last
// marks the body's final bytes: bodySent is set before they are queued,
// because once they are, the loop may see the whole response and decide
// whether the connection is reusable before this goroutine runs again.
// Holding mu across the check and the write keeps body bytes off a
// connection that detach has already given back for another request.
func (x *exchange) writeBody(p []byte, last bool) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	c := x.cur
	if c == nil {
		return false
	}
	if last {
		x.bodySent.Store(true)
	}
	return c.sendBody(p, last) == nil
}

// writeRoom is how many bytes the exchange's carrier can queue now, or -1
// once the exchange no longer holds one. Any goroutine.
func (x *exchange) writeRoom() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cur == nil {
		return -1
	}
	// A carrier's queue may be past its bound by part of one write (a
	// chunk's framing, TLS's records, HTTP/2's queue): no room, which is
	// not -1.
	return max(x.cur.sendRoom(), 0)
}

// canRetry applies DESIGN rule 6: only a request that failed on a reused
// connection before any response byte arrived, and that can be replayed.
func (x *exchange) canRetry() bool {
	return x.reused && !x.gotByte && x.aborted == nil && x.retries < maxRetries && x.t.isOpen()
}

// exchangeFlow is the body flow of a response: it forwards the pipe's
// signals to the carrier that delivered the head, which ignores them once
// it no longer serves the exchange.
// The loop is kept too, since the reader's goroutine must not ask the
// carrier for it: an HTTP/1.1 carrier is recycled once the exchange ends.
type exchangeFlow struct {
	x *exchange
	c carrier
	l *engine.Loop
}

// newFlow makes x's body flow, on the loop, while c serves x.
func newFlow(x *exchange, c carrier) exchangeFlow { return exchangeFlow{x: x, c: c, l: c.loop()} }

func (f *exchangeFlow) full() { f.c.pause(f.x) }

func (f *exchangeFlow) drained(n int) {
	x, c := f.x, f.c
	f.l.Post(func() { c.drained(x, n) })
}

func (f *exchangeFlow) abort(err error) {
	x, c := f.x, f.c
	f.l.Post(func() { x.abort(c, err) })
}

// traceConn lets httptrace's GotConnInfo report addresses. It is not for
// I/O: the engine owns the socket.
type traceConn struct{ c *engine.Conn }

func (tc traceConn) Read([]byte) (int, error)         { return 0, errTraceConn }
func (tc traceConn) Write([]byte) (int, error)        { return 0, errTraceConn }
func (tc traceConn) Close() error                     { return errTraceConn }
func (tc traceConn) LocalAddr() net.Addr              { return tc.c.LocalAddr() }
func (tc traceConn) RemoteAddr() net.Addr             { return tc.c.RemoteAddr() }
func (tc traceConn) SetDeadline(time.Time) error      { return errTraceConn }
func (tc traceConn) SetReadDeadline(time.Time) error  { return errTraceConn }
func (tc traceConn) SetWriteDeadline(time.Time) error { return errTraceConn }

var errTraceConn = errors.New("egress: the connection in GotConnInfo reports addresses only")
