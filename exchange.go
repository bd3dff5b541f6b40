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
	"github.com/egress-go/egress/http1"
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
	informational(x *exchange, p *http1.ResponseParser)
	head(x *exchange, p *http1.ResponseParser)
	body(x *exchange, b []byte)
	trailers(x *exchange, p *http1.ResponseParser)
	// done ends the exchange. retry says the transport may replay the
	// request on another connection (DESIGN rule 6); a sink that can
	// rewind the body does so and calls start again.
	done(x *exchange, err error, retry bool)
}

// exchange is one request in flight, from asking the pool for a connection
// to the end of the response. Both APIs drive the same exchange.
type exchange struct {
	t   *Transport
	ctx context.Context
	snk sink

	// The request.
	method        string
	target        string // request-target as sent
	host          string // Host field
	key           pool.Key
	fields        []http1.HeaderField
	header        http.Header
	body          []byte // a body known up front, sent with the head
	streamed      bool   // the body is pumped by a RoundTrip goroutine
	contentLength int64
	expect100     bool
	reqClose      bool
	trace         *httptrace.ClientTrace

	// Kept between sends by an Exchange (keep): its encoded head, valid
	// while headOK (Send clears it when the request changes), and its
	// h1conn, so that sending the same request again neither encodes it
	// nor takes per-connection state from a pool. The connection itself
	// holds neither once released.
	keep   bool
	headOK bool
	head   []byte
	spare  *h1conn

	// While attached to a connection.
	pc       *pool.Conn
	hc       *h1conn
	reused   bool
	gotByte  bool
	aborted  error       // set on the loop when the transport gave up (timeout, cancel)
	paused   bool        // the exchange paused its connection (back-pressure); loop
	bodySent atomic.Bool // the whole request body was queued
	retries  int
	attempt  atomic.Uint32 // bumped by the sink before each try

	gotConnFn func(*pool.Conn, error) // x.gotConn, made once
	stopCtx   func() bool             // unregisters the context watch

	// cur is the connection serving the exchange, for the goroutines that
	// act on it from outside the loop: the context watch and a RoundTrip
	// pumping a request body. detach clears it under mu before the
	// connection goes back to the pool, so whoever holds mu and sees cur
	// set may still queue bytes on that connection.
	mu  sync.Mutex
	cur *h1conn
}

// start asks the pool for a connection; gotConn continues.
func (x *exchange) start() {
	x.gotByte, x.aborted, x.reused, x.pc, x.hc = false, nil, false, nil, nil
	x.bodySent.Store(!x.streamed)
	if x.gotConnFn == nil {
		x.gotConnFn = x.gotConn
	}
	if x.stopCtx == nil && x.ctx.Done() != nil {
		x.stopCtx = context.AfterFunc(x.ctx, x.cancelled)
	}
	if x.trace != nil && x.trace.GetConn != nil {
		x.trace.GetConn(x.key.Addr)
	}
	x.t.pool.RequestAsync(x.ctx, x.key, handler{}, x.gotConnFn)
}

// gotConn attaches the exchange to a connection and writes the request.
// It runs on the pool's callback goroutine: the caller's, or a loop.
func (x *exchange) gotConn(pc *pool.Conn, err error) {
	if err != nil {
		x.end(err, false)
		return
	}
	attempt := x.attempt.Load()
	c := pc.Engine()
	hc := x.spare
	if hc != nil {
		x.spare = nil
	} else {
		hc = getH1conn()
	}
	out, encErr := x.encodeHead(hc)
	if encErr != nil {
		// Caught before anything was attached or written: the connection
		// is clean.
		x.putH1conn(hc)
		pc.Release(true)
		x.end(encErr, false)
		return
	}

	hc.x, hc.c = x, c
	x.pc, x.hc, x.reused = pc, hc, pc.Reused()
	if x.watched() {
		x.mu.Lock()
		x.cur = hc
		x.mu.Unlock()
	}
	hc.parser.Reset(x.method)
	if t := x.trace; t != nil && t.GotConn != nil {
		t.GotConn(httptrace.GotConnInfo{Conn: traceConn{c}, Reused: x.reused, WasIdle: x.reused, IdleTime: pc.IdleTime()})
	}
	// The hooks run before the bytes reach the loop, so that they come
	// before GotFirstResponseByte, which the loop calls.
	if t := x.trace; t != nil {
		if t.WroteHeaders != nil {
			t.WroteHeaders()
		}
		if !x.streamed && t.WroteRequest != nil {
			t.WroteRequest(httptrace.WroteRequestInfo{})
		}
	}
	x.t.armHeaderTimer(x)
	// From here on the loop may call hc at any time: everything it reads
	// is set above, and the pool's lock orders the switch with its events.
	if !pc.SetHandler(hc) {
		// The connection closed between checkout and now, and its OnClose
		// went to the transport's placeholder handler. Finish on the loop
		// as a close would have, so that a timer that fired meanwhile is
		// seen too.
		if !c.Loop().Post(func() { hc.onClose(net.ErrClosed) }) {
			x.detach(false)
			x.end(ErrTransportClosed, false)
		}
		return
	}
	if err := c.Write(out); err != nil {
		return // the connection closed under us; OnClose decides (and may retry)
	}
	x.snk.attached(x, attempt) // only now may a streamed body follow the head
}

// detach ends the exchange's hold on its connection, giving it back to the
// pool (reusable or not). Loop, or before anything was written.
func (x *exchange) detach(reusable bool) {
	hc, pc := x.hc, x.pc
	if hc == nil {
		return
	}
	x.hc, x.pc = nil, nil
	if x.watched() {
		x.mu.Lock()
		x.cur = nil
		x.mu.Unlock()
	}
	hc.stopTimers()
	if x.paused {
		x.paused = false
		hc.c.ResumeRead() // the connection goes back able to read
	}
	pc.Release(reusable)
	x.putH1conn(hc)
}

// encodeHead returns the bytes that start the request on hc's connection:
// the head, and the body if it is known up front. An Exchange keeps its
// head (x.keep) and encodes it only when the request changed (x.headOK
// false); otherwise the head is encoded into hc's scratch buffer.
func (x *exchange) encodeHead(hc *h1conn) ([]byte, error) {
	if x.keep && x.headOK {
		return x.withBody(hc, x.head), nil
	}
	head := http1.RequestHead{
		Method: x.method, Target: x.target, Host: x.host, Fields: x.fields, Header: x.header,
		ContentLength: x.contentLength, Close: x.reqClose,
	}
	if x.keep {
		var err error
		x.head, err = http1.AppendRequestHead(x.head[:0], &head)
		x.headOK = err == nil
		return x.withBody(hc, x.head), err
	}
	var err error
	hc.wbuf, err = http1.AppendRequestHead(hc.wbuf[:0], &head)
	if !x.streamed {
		hc.wbuf = append(hc.wbuf, x.body...)
	}
	return hc.wbuf, err
}

// withBody returns head followed by a body known up front, using hc's
// scratch buffer only when there is one.
func (x *exchange) withBody(hc *h1conn, head []byte) []byte {
	if x.streamed || len(x.body) == 0 {
		return head
	}
	hc.wbuf = append(append(hc.wbuf[:0], head...), x.body...)
	return hc.wbuf
}

// putH1conn is done with hc: an Exchange keeps it for its next send
// (x.keep), other exchanges give it back to the pool.
func (x *exchange) putH1conn(hc *h1conn) {
	if x.keep {
		resetH1conn(hc)
		x.spare = hc
		return
	}
	putH1conn(hc)
}

// abort gives up on the exchange with err (timeout, cancellation, a body
// closed early): on the loop, the connection is closed and OnClose
// finishes the exchange without a retry.
func (x *exchange) abort(hc *h1conn, err error) {
	if x.hc != hc || hc == nil {
		return
	}
	x.aborted = err
	hc.c.CloseWithError(err)
}

// end finishes the exchange: the sink hears of it, and unless a retry
// follows, the context watch goes.
func (x *exchange) end(err error, retry bool) {
	if !retry && x.stopCtx != nil {
		x.stopCtx()
		x.stopCtx = nil
	}
	x.snk.done(x, err, retry)
}

// watched reports whether a goroutine other than the loop may act on the
// exchange's connection, so that x.cur must be kept.
func (x *exchange) watched() bool { return x.stopCtx != nil || x.streamed }

// cancelled runs when the exchange's context ends: the loop closes the
// connection and the exchange ends with the context's error. (While the
// exchange waits for a connection, the pool sees the context itself.)
func (x *exchange) cancelled() { x.abortAsync(x.ctx.Err()) }

// abortAsync asks the loop to abort the exchange with err, if it still
// holds a connection. Any goroutine.
func (x *exchange) abortAsync(err error) {
	x.mu.Lock()
	hc := x.cur
	x.mu.Unlock()
	if hc != nil {
		hc.c.Loop().Post(func() { x.abort(hc, err) })
	}
}

// writeBody queues p, part of a streamed request body, on the exchange's
// connection, reporting false if the exchange no longer holds one. last
// marks the body's final bytes: bodySent is set before they are queued,
// because once they are, the loop may see the whole response and decide
// whether the connection is reusable before this goroutine runs again.
// Holding mu across the check and the write keeps body bytes off a
// connection that detach has already given back for another request.
func (x *exchange) writeBody(p []byte, last bool) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	hc := x.cur
	if hc == nil {
		return false
	}
	if last {
		x.bodySent.Store(true)
	}
	return hc.c.Write(p) == nil
}

// writeRoom is how many bytes the exchange's connection can queue now, or
// -1 once the exchange no longer holds one. Any goroutine.
func (x *exchange) writeRoom() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cur == nil {
		return -1
	}
	return x.cur.c.WriteQueueRoom()
}

// pauseConn stops the connection reading for back-pressure. Loop only.
func (x *exchange) pauseConn() {
	if x.hc != nil && !x.paused {
		x.paused = true
		x.hc.c.PauseRead()
	}
}

// resumeConn undoes pauseConn if hc still serves x. Loop only.
func (x *exchange) resumeConn(hc *h1conn) {
	if x.hc == hc && hc != nil && x.paused {
		x.paused = false
		hc.c.ResumeRead()
	}
}

// canRetry applies DESIGN rule 6: only a request that failed on a reused
// connection before any response byte arrived, and that can be replayed.
func (x *exchange) canRetry() bool {
	return x.reused && !x.gotByte && x.aborted == nil && x.retries < maxRetries && x.t.isOpen()
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
