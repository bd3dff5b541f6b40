package egress

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http1"
	"github.com/egress-go/egress/pool"
	"github.com/egress-go/egress/tlsconn"
)

// h1conn is the HTTP/1.1 state of a connection while it serves an
// exchange. It comes from a sync.Pool at checkout and goes back at release
// (an Exchange keeps its own between sends instead), so that an idle
// pooled connection holds none of it (no parser, no buffer): only the
// engine's Conn and the pool's entry.
type h1conn struct {
	c       *engine.Conn
	x       *exchange
	parser  http1.ResponseParser
	wbuf    []byte      // scratch for the request's first bytes; Conn.Write copies them
	chunk   []byte      // scratch for a chunk of a streamed body; pump goroutine
	chunked bool        // the request body is sent chunked
	trailer http.Header // sent after the chunked body
	paused  bool        // reading is paused for back-pressure; loop
	timer   *engine.Timer
	timerL  *engine.Loop
	phase   uint8     // what the timer is timing
	direct  *h1Direct // the body's reader holds the read side (h1direct.go); loop
	noLease bool      // the connection cannot lend its read side; loop
	lowat   int       // the socket's read low-water mark while above 1 (lowwater); loop
	noMark  bool      // no mark for the rest of this response: the body idle timer found bytes held back by one, or the socket takes none; loop
	// writing is writeActive while attachH1 writes the request's first
	// bytes, which may be in wbuf. A response that ends the exchange
	// meanwhile (a loop quicker than the writer's return, or a server that
	// answers before it has read the request) must not recycle hc under
	// that write, where another request, to any server, would encode its
	// head into wbuf and the bytes would go out here: detach leaves hc to
	// the writer instead (writeLeft; leftRecyclable says whether it would
	// have recycled it), which recycles it once its write is done.
	writing        atomic.Int32
	leftRecyclable bool
}

const (
	writeNone int32 = iota
	writeActive
	writeLeft
)

// h1keep is what an Exchange keeps between sends over HTTP/1.1: its
// encoded head, valid while ok (Send clears it when the request changes),
// and an h1conn, so that sending the same request again neither encodes
// it nor takes per-connection state from a pool.
type h1keep struct {
	ok    bool
	head  []byte
	spare *h1conn
}

const (
	phaseNone uint8 = iota
	phaseHeader
	phaseBody
)

var h1conns = sync.Pool{New: func() any { return &h1conn{wbuf: make([]byte, 0, 512)} }}

func getH1conn() *h1conn { return h1conns.Get().(*h1conn) }

func putH1conn(hc *h1conn) {
	resetH1conn(hc)
	h1conns.Put(hc)
}

// resetH1conn clears hc for its next use.
func resetH1conn(hc *h1conn) {
	hc.x, hc.c, hc.phase, hc.paused, hc.chunked, hc.trailer = nil, nil, phaseNone, false, false, nil
	hc.direct, hc.noLease, hc.lowat, hc.noMark = nil, false, 0, false
	hc.parser.Reset("")
	if cap(hc.wbuf) > 8<<10 {
		hc.wbuf = make([]byte, 0, 512)
	}
	hc.chunk = nil
}

var errUnsolicited = errors.New("egress: server sent bytes with no request outstanding")

// handler is the placeholder a connection's events go to between checkout
// and the moment its h1conn takes over (pool.Conn.SetHandler). One value
// serves every connection, so checking a connection out allocates nothing.
type handler struct{}

func (handler) OnOpen(*engine.Conn)                {}
func (handler) OnData(c *engine.Conn, data []byte) { c.CloseWithError(errUnsolicited) }
func (handler) OnWritten(*engine.Conn, int)        {}
func (handler) OnClose(*engine.Conn, error)        {}

// The h1conn is the connection's handler while it serves an exchange. The
// pool stops forwarding events to it when the exchange releases the
// connection, on the loop, before the h1conn is recycled.

func (hc *h1conn) OnOpen(*engine.Conn) {}

func (hc *h1conn) OnData(c *engine.Conn, data []byte) {
	if hc.x == nil {
		c.CloseWithError(errUnsolicited)
		return
	}
	hc.onData(data)
}

func (hc *h1conn) OnWritten(c *engine.Conn, n int) {
	if hc.x != nil {
		hc.x.snk.writable(hc.x)
	}
}

func (hc *h1conn) OnClose(c *engine.Conn, err error) {
	if hc.x != nil {
		hc.onClose(err)
	}
}

// onData feeds the parser and passes its events on. Loop only.
func (hc *h1conn) onData(in []byte) {
	x := hc.x
	p := &hc.parser
	x.firstByte()
	for hc.x == x {
		ev, n, err := p.Feed(in)
		in = in[n:]
		if err != nil {
			hc.fail(err)
			return
		}
		switch ev {
		case http1.EventNone:
			if x.direct != nil {
				hc.takeLease() // the body's reader reads the rest itself
			} else {
				hc.setLowWater(p.BodyWant())
			}
			x.snk.delivered(x)
			return
		case http1.EventInformational:
			x.snk.informational(x, p)
		case http1.EventHead:
			hc.stopTimers()
			x.inHand = len(in)
			x.snk.head(x, p)
			x.inHand = 0
			if hc.x == x && p.HasBody() {
				hc.armBodyTimer()
			}
		case http1.EventBody:
			hc.touchBodyTimer()
			x.snk.body(x, p.Body())
		case http1.EventTrailers:
			x.snk.trailers(x, p)
		case http1.EventDone:
			if hc.lowat > 1 {
				hc.setLowWater(0) // the connection goes back as it came
			}
			// Bytes after the response mean the framing and the server
			// disagree: finish this response but do not reuse the
			// connection.
			if _, _, err := p.Feed(in); err != nil {
				hc.finish(nil, false)
				return
			}
			hc.finish(nil, p.KeepAlive())
			return
		}
	}
}

// finish completes the exchange successfully. Loop only.
func (hc *h1conn) finish(err error, keepAlive bool) {
	x := hc.x
	reusable := keepAlive && x.bodySent.Load() && !x.reqClose && !hc.parser.Tunnel()
	hc.detach(reusable)
	x.end(err, false)
}

// fail ends the exchange with a protocol error; the connection is closed.
func (hc *h1conn) fail(err error) {
	x := hc.x
	c := hc.c
	hc.detach(false)
	c.CloseWithError(err)
	x.end(err, false)
}

// onClose handles the connection closing mid-exchange. Loop only.
func (hc *h1conn) onClose(reason error) {
	x := hc.x
	p := &hc.parser
	if d := hc.direct; d != nil && d.pipe.directStarted() {
		// The body's reader holds the parser (h1direct.go) and is woken
		// by this close with its reason; the exchange ends here, without
		// the parser, and the reader's own verdict finds the lease gone.
		err := x.aborted
		if err == nil {
			err = &closedError{cause: reason}
		}
		hc.detach(false)
		x.end(err, false)
		return
	}
	if x.aborted == nil && x.gotByte {
		// A close-delimited body ends here, if the peer ended it: a
		// reset (or our own close) cuts it short, and anything but a
		// close-delimited body is truncated whatever the reason.
		if err := p.EOF(); err == nil && peerEnded(reason) {
			hc.finish(nil, false)
			return
		} else if err == nil {
			hc.detach(false)
			x.end(&closedError{cause: reason}, false)
			return
		} else if !errors.Is(err, http1.ErrNoResponse) {
			hc.detach(false)
			x.end(err, false)
			return
		}
	}
	retry := x.canRetry()
	err := x.aborted
	if err == nil {
		err = &closedError{cause: reason}
	}
	hc.detach(false)
	x.end(err, retry)
}

// peerEnded reports whether a connection's close reason is the peer's
// end of its stream: a FIN, with TLS's close_notify or without it (as
// net/http, which accepts a close-delimited body cut by a bare FIN), and
// not a reset or a close of ours.
func peerEnded(reason error) bool {
	return errors.Is(reason, engine.ErrPeerClosed) || errors.Is(reason, tlsconn.ErrTruncated)
}

// testHookBeforeRequestWrite, if set, runs in attachH1 between making the
// h1conn the connection's handler and writing the request.
var testHookBeforeRequestWrite func(*h1conn)

// attachH1 serves x on pc's connection over HTTP/1.1: the head (and a body
// known up front) is encoded and written, and the h1conn becomes the
// connection's handler. On the pool's callback goroutine.
func (x *exchange) attachH1(pc *pool.Conn, attempt uint32) {
	c := pc.Engine()
	hc := x.h1.spare
	if hc != nil {
		x.h1.spare = nil
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
	hc.chunked = x.streamed && x.contentLength < 0
	hc.trailer = x.trailer
	x.attach(hc, pc)
	hc.parser.Limits = x.t.h1lim
	hc.parser.Reset(x.method)
	// A blocking reader takes a large body's bytes from the socket itself
	// (h1direct.go) once the head is parsed: until then the loop reads
	// little, so that little of the body reaches it, to be copied into
	// the body's pipe. A 1 MiB body through http.Client had its first
	// 256 KiB copied twice so, a quarter of the client's CPU.
	c.SetSmallReads(x.pulled())
	x.traceWrote(c, pc)
	hc.armHeaderTimer()
	// Once the head is written the response may come, end the exchange
	// and let its round trip be recycled (roundTrip.done) before this
	// goroutine, which need not be the connection's loop, goes on: what
	// it needs afterwards is read now.
	snk, streamed := x.snk, x.streamed
	// From here on the loop may call hc at any time: everything it reads
	// is set above, and the pool's lock orders the switch with its events.
	hc.writing.Store(writeActive)
	if !pc.SetHandler(hc) {
		hc.writing.Store(writeNone)
		// The connection closed between checkout and now, and its OnClose
		// went to the transport's placeholder handler. Finish on the loop
		// as a close would have, so that a timer that fired meanwhile is
		// seen too.
		if !c.Loop().Post(func() { hc.onClose(net.ErrClosed) }) {
			hc.detach(false)
			x.end(ErrTransportClosed, false)
		}
		return
	}
	// Written from this goroutine when the socket takes it, which it
	// nearly always does (nothing is queued on a connection between
	// exchanges): no copy into the write queue and no wake-up of the loop
	// to send it.
	if testHookBeforeRequestWrite != nil {
		testHookBeforeRequestWrite(hc)
	}
	err := c.WriteDirect(out)
	// The last touch of hc, unless the exchange ended meanwhile: from
	// here the loop may recycle it.
	if !hc.writing.CompareAndSwap(writeActive, writeNone) {
		// The exchange ended and left hc to this goroutine (detach).
		hc.writing.Store(writeNone)
		if hc.leftRecyclable {
			putH1conn(hc)
		}
	}
	if err != nil {
		return // the connection closed under us; OnClose decides (and may retry)
	}
	if streamed {
		// Only now may the body follow the head. A round trip with a body
		// to pump is never recycled, so x is still the caller's.
		snk.attached(x, attempt)
	}
}

// detach ends the exchange's hold on the connection, giving it back to the
// pool (reusable or not). Loop, or before anything was written.
func (hc *h1conn) detach(reusable bool) {
	x := hc.x
	if x == nil || x.conn != carrier(hc) {
		return
	}
	pc := x.pc
	x.unattach()
	hc.stopTimers()
	if hc.paused {
		hc.paused = false
		hc.c.ResumeRead() // the connection goes back able to read
	}
	recyclable := hc.endLease()
	pc.Release(reusable)
	if hc.writing.Load() == writeActive {
		hc.leftRecyclable = recyclable
		if hc.writing.CompareAndSwap(writeActive, writeLeft) {
			return // attachH1 recycles hc once its write is done
		}
	}
	if recyclable {
		x.putH1conn(hc)
	}
}

// encodeHead returns the bytes that start the request on hc's connection:
// the head, and the body if it is known up front. An Exchange keeps its
// head (x.keep) and encodes it only when the request changed (x.h1.ok
// false); otherwise the head is encoded into hc's scratch buffer.
func (x *exchange) encodeHead(hc *h1conn) ([]byte, error) {
	if x.keep && x.h1.ok {
		return x.withBody(hc, x.h1.head), nil
	}
	head := http1.RequestHead{
		Method: x.method, Target: x.target, Host: x.host, Fields: h1Fields(x.fields), Header: x.header,
		ContentLength: x.contentLength, Close: x.reqClose,
	}
	if x.keep {
		var err error
		x.h1.head, err = http1.AppendRequestHead(x.h1.head[:0], &head)
		x.h1.ok = err == nil
		return x.withBody(hc, x.h1.head), err
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
		x.h1.spare = hc
		return
	}
	putH1conn(hc)
}

// The carrier methods: how the exchange drives its HTTP/1.1 connection.

func (hc *h1conn) loop() *engine.Loop { return hc.c.Loop() }
func (hc *h1conn) multiplexed() bool  { return false }

// abort closes the connection, which cannot be reused with a response
// unfinished; OnClose ends the exchange without a retry (x.aborted is
// set).
func (hc *h1conn) abort(x *exchange, err error) {
	if hc.x == x {
		hc.c.CloseWithError(err)
	}
}

// pause stops reading the socket: the kernel's window closes and the
// server stops sending.
func (hc *h1conn) pause(x *exchange) {
	if hc.x == x && !hc.paused {
		hc.paused = true
		hc.c.PauseRead()
	}
}

func (hc *h1conn) resume(x *exchange) {
	if hc.x == x && hc.paused {
		hc.paused = false
		hc.c.ResumeRead()
	}
}

// drained: the body reader caught up after the pipe was full.
func (hc *h1conn) drained(x *exchange, n int) {
	// Posted by the body's reader, it may run after x ended and hc went
	// back to h1conns, or on to another exchange: hc is not x's then.
	if x.conn != carrier(hc) {
		return
	}
	hc.resume(x)
}

func (hc *h1conn) pullBody() {}

// sendBody frames p as a chunk when the body is chunked; the last call
// adds the last chunk.
func (hc *h1conn) sendBody(p []byte, last bool) error {
	// From the pump's goroutine, straight to the socket when nothing is
	// queued ahead (engine.Conn.WriteDirect): no copy into the write
	// queue, no wake-up of the loop.
	if !hc.chunked {
		if len(p) == 0 {
			return nil
		}
		return hc.c.WriteDirect(p)
	}
	b := hc.chunk[:0]
	if len(p) > 0 {
		b = http1.AppendChunk(b, p)
	}
	if last {
		// The trailer's values are read now, once the body has ended (the
		// sender checked that they encode).
		b, _ = http1.AppendLastChunk(b, hc.trailer)
	}
	hc.chunk = b
	return hc.c.WriteDirect(b)
}

// h1MaxQueued bounds what a streamed request body keeps queued in the
// engine: the socket's own send buffer (megabytes, grown by the kernel)
// carries the rest, and bytes go to it directly whenever it has room, so
// the queue is only the overflow of one write.
const h1MaxQueued = 64 << 10

// sendRoom bounds what a streamed request body keeps queued to
// h1MaxQueued: a connection uploading does not hold megabytes of the
// caller's body.
func (hc *h1conn) sendRoom() int {
	return min(hc.c.WriteQueueRoom(), h1MaxQueued-int(hc.c.Stats().Queued))
}

// Timers. Each h1conn keeps one engine timer per loop it meets, re-armed
// per phase, so a request with timeouts allocates nothing in steady state.

func (hc *h1conn) timerFor() *engine.Timer {
	if hc.timer == nil || hc.timerL != hc.c.Loop() {
		if hc.timer != nil {
			hc.timer.Stop()
		}
		hc.timerL = hc.c.Loop()
		hc.timer = hc.timerL.AfterFunc(time.Hour, hc.onTimer)
	}
	return hc.timer
}

func (hc *h1conn) armHeaderTimer() {
	if d := hc.x.t.opts.ResponseHeaderTimeout; d > 0 {
		hc.phase = phaseHeader
		hc.timerFor().Reset(d)
	}
}

func (hc *h1conn) armBodyTimer() {
	if d := hc.x.t.opts.BodyIdleTimeout; d > 0 {
		hc.phase = phaseBody
		hc.timerFor().Reset(d)
	}
}

func (hc *h1conn) touchBodyTimer() {
	if hc.phase == phaseBody {
		hc.timer.Reset(hc.x.t.opts.BodyIdleTimeout)
	}
}

func (hc *h1conn) stopTimers() {
	if hc.phase != phaseNone {
		hc.phase = phaseNone
		hc.timer.Stop()
	}
}

// onTimer runs on the loop when a phase's time is up.
func (hc *h1conn) onTimer() {
	x := hc.x
	if x == nil {
		return
	}
	switch hc.phase {
	case phaseHeader:
		x.abort(hc, ErrHeaderTimeout)
	case phaseBody:
		if d := hc.direct; d != nil {
			// The reader reads the socket: the loop sees no bytes, so
			// the timer asks the lease when they last came.
			if idle, limit := d.bodyIdle(), x.t.opts.BodyIdleTimeout; idle < limit {
				hc.timer.Reset(limit - idle)
				return
			}
		}
		if hc.lowat > 1 {
			// Bytes that arrived below the mark made no read: only an
			// empty receive queue means the body is idle. A slow body is
			// read as it comes from here on, so the timer times it again.
			hc.noMark = true
			hc.setLowWater(0)
			if n, err := hc.c.ReadQueued(); err == nil && n > 0 {
				hc.timer.Reset(x.t.opts.BodyIdleTimeout)
				return
			}
		}
		x.abort(hc, ErrBodyIdleTimeout)
	}
}

// Read low-water marks (engine.Conn.SetReadLowWater): while the loop reads
// a large body of known length to callbacks (the Exchange API), the
// socket is reported readable only once a large piece of it has arrived,
// not at every arrival. A body read through http.Client takes no mark:
// its reader reads the socket itself, and a mark made that slower (see
// bench/RESULTS.md). A 1 MiB GET
// from nginx on loopback at 64 connections went from 2,700 to 6,900
// responses a second, at half the client CPU per response, and nginx's
// own CPU per response fell from 360 to 140 µs: each wake-up of the
// reader is work the sender's kernel does.
const (
	// lowWaterMax is the mark for a body with much still to come: one read
	// of the loop's buffer (engine.Config.ReadBufferSize's default).
	lowWaterMax = 256 << 10
	// lowWaterMin: below this much still wanted, the body's tail is read
	// as it comes.
	lowWaterMin = 64 << 10
	// lowWaterSlack is kept between the mark and the bytes the body still
	// needs, for those a layer may already hold undecoded (a TLS record
	// and its overhead): the mark must never exceed what will come.
	lowWaterSlack = 20 << 10
)

// setLowWater sets the socket's mark for a body that needs want more
// bytes (-1: unknown or none, as http1.ResponseParser.BodyWant reports).
// A mark is raised once per body and lowered only when the body's tail
// would fall below it, so a 1 MiB body costs a few system calls. Loop only.
func (hc *h1conn) setLowWater(want int64) {
	target := 1
	if !hc.noMark && want-lowWaterSlack >= lowWaterMin {
		target = int(min(want-lowWaterSlack, lowWaterMax))
	}
	switch {
	case target > 1 && hc.lowat > 1 && hc.lowat <= target:
		return // still below what will come
	case target <= 1 && hc.lowat <= 1:
		return
	}
	n, err := hc.c.SetReadLowWater(target)
	if err != nil {
		hc.noMark = true // not supported here, or the socket is going
		n = 1
	}
	hc.lowat = n
}
