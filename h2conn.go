package egress

import (
	"errors"
	"net"
	"net/http"
	"time"
	"unsafe"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http2"
	"github.com/egress-go/egress/internal/bufpool"
	"github.com/egress-go/egress/pool"
	"github.com/egress-go/egress/tlsconn"
)

// h2conn is an HTTP/2 connection: the engine connection's handler for its
// whole life, which the pool shares among the exchanges that hold a stream
// of it (pool.Conn.Share). The protocol is package http2's Conn, a pure
// state machine this type feeds with what the socket delivers and whose
// output it writes. Loop only, unless a method says otherwise.
type h2conn struct {
	t  *Transport
	c  *engine.Conn
	pc *pool.Conn

	proto http2.Conn

	// Health and idle checks share one timer (see tick).
	timer     *engine.Timer
	flushFn   func()
	tickD     time.Duration // the period the timer is armed for
	reads     uint32        // OnData calls, to tell a silent connection at a tick
	readsSeen uint32
	idleTicks uint8 // ticks seen with no stream open
	armed     bool
	pingOut   bool // a health PING awaits its ACK

	// What the connection keeps between streams goes once it has had
	// none open for h2CompactAfter (see quiet).
	compactDue bool // the tick armed is the check for that, not a period's
	compacted  bool // given back, and no stream opened since
	opened     bool // a stream opened since the check was armed

	flushQueued bool
	closed      bool
}

// h2Ping is the payload of health-check PINGs.
var h2Ping = [8]byte{'h', 'e', 'a', 'l', 't', 'h', 0xe9, 0x55}

// speaksH2 reports whether a fresh connection of pc's key carries HTTP/2:
// TLS negotiated "h2" by ALPN, or plain text with prior knowledge.
func (t *Transport) speaksH2(pc *pool.Conn) bool {
	if t.opts.HTTP2.Disable {
		return false
	}
	key := pc.Key()
	if key.TLS != nil {
		st, ok := tlsconn.State(pc.Engine())
		return ok && st.NegotiatedProtocol == "h2"
	}
	return t.opts.HTTP2.PriorKnowledge && key.Proxy == ""
}

// newH2conn makes pc, fresh from its dial, an HTTP/2 connection: the
// preface and SETTINGS go out, and the pool shares it. On pc's loop.
func newH2conn(t *Transport, pc *pool.Conn) *h2conn {
	h := &h2conn{t: t, c: pc.Engine(), pc: pc}
	h.flushFn = h.flushTask
	h.proto.Init(t.opts.HTTP2.Config, h)
	t.trackH2(h, true)
	if !pc.SetHandler(h) {
		// It closed between checkout and now, and its OnClose went to the
		// placeholder: close as it would have. The stream then finds the
		// connection closed, and the request goes elsewhere.
		h.OnClose(h.c, net.ErrClosed)
		return h
	}
	h.flush()
	pc.Share(int(h.proto.Peer().MaxConcurrentStreams))
	h.armTimer()
	return h
}

// flush writes what the protocol queued. The engine copies it. Frames
// cannot be dropped, as each may carry HPACK state or body bytes the
// server counts on: a write the engine refuses (its write queue is full,
// so the server has stopped reading while it sends us frames to answer)
// closes the connection. Once we closed our side (ErrClosed), nothing
// more is owed to the server.
func (h *h2conn) flush() {
	if b := h.proto.Pending(); len(b) > 0 {
		err := h.c.Write(b)
		h.proto.Flushed()
		if err != nil && !errors.Is(err, engine.ErrClosed) {
			h.closeWith(err)
		}
	}
}

// h2MaxQueued bounds the request body bytes an HTTP/2 connection keeps in
// its engine write queue (as h1MaxQueued does for HTTP/1.1), whatever
// windows the server grants: the socket's send buffer carries the rest,
// and a server that stops reading stops the uploads at this bound rather
// than at the engine's write-queue limit, which would refuse the next
// frame.
const h2MaxQueued = 256 << 10

// h2ControlRoom is write-queue room kept for frames other than DATA
// (request heads, WINDOW_UPDATEs, acknowledgements), or a quarter of the
// room left if that is less.
const h2ControlRoom = 16 << 10

// dataRoom is how many request body bytes may be framed now: what the
// engine's write queue can still take, less what the protocol has queued
// and not flushed, room for other frames and TLS's overhead (about 8%,
// see tlsconn's sealedSize), within h2MaxQueued. Loop.
func (h *h2conn) dataRoom() int {
	pending := len(h.proto.Pending())
	room := h.c.WriteQueueRoom() - pending
	room -= room/12 + 80 + min(h2ControlRoom, room/4)
	return min(room, h2MaxQueued-int(h.c.Stats().Queued)-pending)
}

// flushSoon flushes once the loop has run the tasks queued now, so that
// streams opened by a burst of posted tasks share one write.
func (h *h2conn) flushSoon() {
	if !h.flushQueued {
		h.flushQueued = true
		if !h.c.Loop().Post(h.flushFn) {
			h.flushQueued = false
		}
	}
}

func (h *h2conn) flushTask() {
	h.flushQueued = false
	h.flush()
}

// The engine.Handler side.

func (h *h2conn) OnOpen(*engine.Conn) {}

func (h *h2conn) OnData(c *engine.Conn, b []byte) {
	h.reads++
	err := h.proto.Feed(b)
	h.flush()
	held := &h.t.held[c.Loop().ID()]
	for hs := *held; hs != nil; {
		next := hs.nextHeld
		hs.nextHeld = nil
		hs.x.snk.delivered(hs.x)
		hs = next
	}
	*held = nil
	if err != nil {
		h.closeWith(err)
	} else if h.proto.Done() {
		h.closeWith(nil)
	} else if h.barred() {
		h.closeIfUnused()
	}
}

// OnWritten pumps the request bodies that waited for room in the write
// queue (pumpUp), once half of h2MaxQueued is free again, or the queue is
// empty (an engine whose write-queue limit is smaller never frees that
// much).
func (h *h2conn) OnWritten(c *engine.Conn, _ int) {
	if h.closed || !h.proto.Waiting() {
		return
	}
	if r := h.dataRoom(); r <= 0 || r < h2MaxQueued/2 && c.Stats().Queued > 0 {
		return
	}
	h.proto.Wake()
	h.flush()
}

func (h *h2conn) OnClose(c *engine.Conn, err error) {
	h.closed = true
	if h.timer != nil {
		h.timer.Stop()
	}
	h.pc.Retire()
	h.proto.Close(&closedError{cause: err})
	// Parked requests go elsewhere, unless the transport is closing:
	// then they fail as its open streams just did.
	var parkedErr error = http2.ErrConnClosed
	if !h.t.isOpen() {
		parkedErr = &closedError{cause: err}
	}
	h.leaveParked(parkedErr)
	h.t.trackH2(h, false)
	h.pc.Release(false)
}

// closeWith closes the connection: err nil for a graceful end (GOAWAY
// sent or received and no stream left), which lets queued frames go first.
func (h *h2conn) closeWith(err error) {
	if h.closed {
		return
	}
	h.pc.Retire()
	if err == nil {
		h.proto.Shutdown()
		// No stream opens here after our GOAWAY: requests parked on the
		// connection (the idle check found none open) go elsewhere now
		// rather than wait out PingTimeout for nothing.
		h.leaveParked(http2.ErrGoingAway)
		h.flush()
		if h.c.CloseWrite() != nil {
			return // ended already: each read after the end comes here
		}
		// A server that never closes its side is not waited for long,
		// even if it keeps sending: an idle timeout would wait for ever
		// on a server that sends a PING now and then.
		c := h.c
		c.AfterFunc(h.t.opts.HTTP2.PingTimeout, func() { c.CloseWithError(engine.ErrIdleTimeout) })
		return
	}
	h.closed = true
	h.c.CloseWithError(err)
}

// The http2.ConnHandler side.

func (h *h2conn) Settings(_ *http2.Conn, s http2.PeerSettings) {
	// The pool first, so that a parked request replayed now finds the
	// room the server made here.
	h.pc.SetStreamLimit(int(min(s.MaxConcurrentStreams, 1<<16-1)))
	h.unpark()
}

func (h *h2conn) PingAck(_ *http2.Conn, data [8]byte) {
	if data == h2Ping {
		h.pingOut = false
	}
}

func (h *h2conn) GoAway(*http2.Conn, *http2.GoAwayError) {
	h.t.stats.goAways.Add(1)
	h.pc.Retire()
	h.leaveParked(http2.ErrGoingAway)
}

// A server may advertise SETTINGS_MAX_CONCURRENT_STREAMS 0 for a while
// (RFC 9113, section 5.1.2). A request that holds a stream slot of such a
// connection (the pool gave it one before the limit fell, or it was
// dialed for it and the server refused the request it sent before its
// SETTINGS arrived) is parked on the connection instead of going back to
// the pool, which would dial another connection for it as long as this
// one has no room: as many dials as retries, each connection left open
// with nothing to carry. A parked request keeps its slot, so that the
// pool hands this connection to nobody else meanwhile, and waits for a
// SETTINGS that raises the limit (unpark), for its context, or for
// HTTP2Options.PingTimeout, after which it fails with ErrNoStreams. A
// connection at 0 that carries and holds nothing closes (closeIfUnused).

// barred reports whether the server allows no stream now. Loop.
func (h *h2conn) barred() bool { return h.proto.Peer().MaxConcurrentStreams == 0 }

// canPark reports whether a request that could not open a stream here
// because of the server's limit should wait here: the limit is 0, and
// the connection is alive and not going away. Loop.
func (h *h2conn) canPark() bool {
	return !h.closed && h.barred() && h.proto.Err() == nil && !h.proto.GoingAway()
}

// park keeps hs, whose stream could not open (refused false) or was
// refused by the server (refused true), waiting on its connection. Loop.
func (hs *h2stream) park(refused bool) {
	h := hs.hc
	hs.s, hs.parked, hs.refused, hs.nextParked = nil, true, refused, nil
	l := &h.t.parked[h.c.Loop().ID()]
	for *l != nil {
		l = &(*l).nextParked // first come, first served
	}
	*l = hs
	hs.arm(phaseParked, h.t.opts.HTTP2.PingTimeout)
}

// takeParked unlinks and returns only, or if only is nil the first
// stream parked on h; nil if there is none. Loop.
func (h *h2conn) takeParked(only *h2stream) *h2stream {
	for l := &h.t.parked[h.c.Loop().ID()]; *l != nil; l = &(*l).nextParked {
		if hs := *l; hs.hc == h && (only == nil || hs == only) {
			*l, hs.nextParked, hs.parked = hs.nextParked, nil, false
			return hs
		}
	}
	return nil
}

// unpark lets parked streams go as the server now allows: one that
// never left, or whose request has no body or a body known up front,
// opens here at once (a refused one counts as a retry), as long as there
// is room; a refused one with a streamed body is replayed by its sink,
// which must rewind the body, through the pool (which finds room here if
// there is any, and otherwise treats it as any request that meets a full
// connection). Loop.
func (h *h2conn) unpark() {
	if h.t.parked[h.c.Loop().ID()] == nil {
		return
	}
	for h.proto.CanOpen() {
		hs := h.takeParked(nil)
		if hs == nil {
			return
		}
		hs.stopTimer()
		x := hs.x
		if hs.refused {
			if x.streamed {
				hs.finish(http2.ErrRefused, x.t.isOpen())
				continue
			}
			x.retries++
			x.t.countRetry(http2.ErrRefused)
		}
		hs.open()
	}
}

// leaveParked sends the streams parked on h elsewhere, as the connection
// closes or goes away: the server has not seen them (or refused them),
// so each is retried like a stream that could not open. Loop.
func (h *h2conn) leaveParked(err error) {
	for hs := h.takeParked(nil); hs != nil; hs = h.takeParked(nil) {
		x := hs.x
		hs.finish(err, x.retries < maxUnprocessedRetries && x.t.isOpen())
	}
}

// closeIfUnused closes the connection (GOAWAY) if its server allows no
// stream and it carries none and no request holds one of its slots
// (parked, or about to open): it could only count against the pool's
// limit on connections while requests of its key go elsewhere. Loop,
// outside the protocol's Feed.
func (h *h2conn) closeIfUnused() {
	if !h.closed && h.barred() && h.proto.Active() == 0 && h.pc.Streams() == 0 {
		h.closeWith(nil)
	}
}

// The health check and idle expiry. While streams are open, a connection
// silent for a read-idle interval gets a PING, and one that does not
// answer within the ping timeout is closed: its streams fail with
// ErrHealthCheck instead of waiting on a dead peer. PINGs go only while
// streams are open and at most one per interval, which servers tolerate
// (gRPC's defaults object to pings without streams). A connection with no
// stream open for the pool's idle timeout says GOAWAY and closes.

// armTimer starts the ticks if they are not running, or brings the next
// one forward when the connection needs it sooner (a stream opened on an
// idle connection). Loop.
func (h *h2conn) armTimer() {
	if h.closed {
		return
	}
	d := h.tickEvery()
	if d <= 0 || h.armed && d >= h.tickD {
		return
	}
	h.armed, h.tickD = true, d
	h.compactDue = false // the tick armed now is a period's
	h.readsSeen = h.reads
	if h.timer == nil {
		h.timer = h.c.Loop().AfterFunc(d, h.tick)
	} else {
		h.timer.Reset(d)
	}
}

func (h *h2conn) tickEvery() time.Duration {
	if h.proto.Active() > 0 && h.t.opts.HTTP2.ReadIdleTimeout > 0 {
		return h.t.opts.HTTP2.ReadIdleTimeout
	}
	return h.t.pool.Config().IdleTimeout
}

func (h *h2conn) tick() {
	h.armed = false
	if h.closed {
		return
	}
	if h.compactDue {
		h.compactDue = false
		switch {
		case h.proto.Active() == 0 && h.opened:
			// Streams came and went meanwhile: wait a while again.
			h.quiet()
		case h.proto.Active() == 0:
			h.compact()
			fallthrough
		default:
			// The periods start again from now; a stream open arms the
			// check again as the last one ends.
			h.armTimer()
		}
		return
	}
	silent := h.reads == h.readsSeen
	switch {
	case h.pingOut && silent:
		h.closeWith(ErrHealthCheck)
		return
	case h.proto.Active() > 0:
		h.idleTicks = 0
		if silent && h.t.opts.HTTP2.ReadIdleTimeout > 0 {
			if h.proto.Ping(h2Ping) == nil {
				h.pingOut = true
				h.flush()
				h.readsSeen = h.reads
				h.armed, h.tickD = true, h.t.opts.HTTP2.PingTimeout
				h.timer.Reset(h.tickD)
				return
			}
		}
	default:
		// Idle: the first tick with no stream starts the count, the next
		// one, a whole idle timeout later with none opened meanwhile
		// (open resets the count), closes.
		if h.idleTicks++; h.idleTicks >= 2 {
			h.closeWith(nil)
			return
		}
		h.compact()
	}
	h.armTimer()
}

// h2CompactAfter is how long a connection has no stream open before it
// gives back what it keeps between streams: the protocol's HPACK encoder
// and tables (http2.Conn.Compact) and crypto/tls's input buffers. A
// connection whose next request comes sooner allocates nothing again;
// one that waits in the pool for longer keeps none of it meanwhile.
const h2CompactAfter = time.Second

// quiet arms the compaction check when the last stream has ended: the
// tick comes h2CompactAfter from now instead of at its period, unless a
// period is as short (the idle tick compacts too). While a health PING is
// out its timeout keeps the tick. Loop.
func (h *h2conn) quiet() {
	if h.closed || h.compacted || h.compactDue || h.pingOut || h.proto.Active() > 0 {
		return
	}
	if d := h.tickEvery(); d > 0 && d <= h2CompactAfter {
		return
	}
	h.opened = false
	h.compactDue, h.armed, h.tickD = true, true, h2CompactAfter
	if h.timer == nil {
		h.timer = h.c.Loop().AfterFunc(h2CompactAfter, h.tick)
	} else {
		h.timer.Reset(h2CompactAfter)
	}
}

// compact gives back what the connection keeps between streams. Loop,
// between reads, with no stream open.
func (h *h2conn) compact() {
	if h.compacted {
		return
	}
	h.compacted = true
	h.proto.Compact()
	tlsconn.ReleaseBuffers(h.c)
}

// The exchange side: h2stream is what an exchange holds while it has a
// stream. It is embedded in the exchange, so a stream costs no allocation.

// h2stream is the carrier of an exchange over HTTP/2, and the
// http2.StreamHandler of its stream.
type h2stream struct {
	x       *exchange
	hc      *h2conn
	s       *http2.Stream // nil until opened and once closed
	attempt uint32
	req     http2.Request
	head    h2head
	openFn  func()
	upFn    func()

	nextHeld *h2stream // Transport.held's list
	// nextParked links Transport.parked's list; parked says the stream
	// is on it, and refused that the server refused it (see park).
	nextParked *h2stream
	parked     bool
	refused    bool
	pulled     bool // a body pipe reports what its reader consumed
	paused     bool // Exchange.Pause: credit is withheld
	unacked    int  // body bytes delivered while paused

	// The header and body timeouts, as h1conn has them: one engine timer
	// per loop met, kept with the exchange.
	timer  *engine.Timer
	timerL *engine.Loop
	phase  uint8

	// The request body, guarded by x.mu: bytes the pump queued (a copy)
	// and those of a body known up front (x.body) not yet framed.
	fixed    []byte
	up       []byte
	upOff    int
	upEnd    bool
	upPosted bool
}

// maxUpload bounds the request body bytes queued per stream beyond what
// flow control lets out, as the HTTP/1.1 path bounds its write queue.
const maxUpload = 256 << 10

// attachH2 serves x with a stream of h's connection. The stream opens on
// h's loop. On the pool's callback goroutine.
// fresh says the connection was dialed for x: the first stream of a
// connection is not a reuse.
func (x *exchange) attachH2(h *h2conn, pc *pool.Conn, attempt uint32, fresh bool) {
	hs := x.h2
	if hs == nil {
		hs = &h2stream{x: x}
		hs.openFn = hs.open
		hs.upFn = hs.pumpUp
		x.h2 = hs
	}
	hs.hc, hs.attempt, hs.pulled, hs.paused, hs.unacked = h, attempt, false, false, 0
	x.attach(hs, pc)
	if fresh {
		x.reused = false
	}
	if !h.c.Loop().Post(hs.openFn) {
		pc.ReleaseStream()
		x.unattach()
		x.end(ErrTransportClosed, false)
	}
}

// open starts the stream. Loop.
func (hs *h2stream) open() {
	x, h := hs.x, hs.hc
	if x.conn != carrier(hs) {
		return
	}
	if x.aborted != nil {
		hs.finish(x.aborted, false)
		return
	}
	h.idleTicks = 0
	h.opened, h.compacted = true, false
	r := &hs.req
	*r = http2.Request{
		Method: x.method, Scheme: "http", Authority: x.host, Path: x.target,
		Fields: h2Fields(x.fields), Header: x.header, ContentLength: x.contentLength,
	}
	if x.key.TLS != nil {
		r.Scheme = "https"
	}
	if !x.streamed && len(x.body) == 0 {
		r.ContentLength = 0
	}
	s, err := h.proto.OpenStream(hs, r, !x.streamed && len(x.body) == 0)
	hs.req = http2.Request{} // keep no reference to the caller's fields
	if err != nil {
		if errors.Is(err, http2.ErrStreamLimit) && h.canPark() {
			// The server allows none for now: wait here (see park).
			hs.park(false)
			return
		}
		// Nothing was sent: a request that did not fit goes elsewhere.
		unsent := errors.Is(err, http2.ErrStreamLimit) || errors.Is(err, http2.ErrGoingAway) || errors.Is(err, http2.ErrConnClosed)
		hs.finish(err, unsent && x.retries < maxUnprocessedRetries && x.t.isOpen())
		return
	}
	hs.s = s
	// Now, not before OpenStream: a parked stream opens a second time.
	// The bytes are flushed after the hooks run all the same.
	x.traceWrote(h.c, h.pc)
	if d := x.t.opts.ResponseHeaderTimeout; d > 0 {
		hs.arm(phaseHeader, d)
	}
	if !x.streamed && len(x.body) > 0 {
		x.mu.Lock()
		hs.fixed = x.body
		x.mu.Unlock()
		hs.pumpUp()
	}
	h.armTimer()
	h.flushSoon()
	x.snk.attached(x, hs.attempt)
}

// finish ends x's hold on the stream slot and the exchange. Loop.
func (hs *h2stream) finish(err error, retry bool) {
	x, h := hs.x, hs.hc
	opened := hs.s != nil
	hs.s = nil
	hs.stopTimer()
	x.mu.Lock()
	if hs.up != nil {
		bufpool.Put(hs.up)
		hs.up, hs.upOff = nil, 0
	}
	hs.fixed, hs.upEnd = nil, false
	x.mu.Unlock()
	pc := x.pc
	x.unattach()
	pc.ReleaseStream()
	if opened {
		h.unpark() // a stream slot of the server's is free
	}
	if h.barred() && !h.closed {
		// Maybe the last use of a connection that can carry nothing;
		// this may run inside Feed, hence the post.
		h.c.Loop().Post(h.closeIfUnused)
	}
	h.armTimer()
	h.quiet()
	x.end(err, retry)
}

// unprocessed reports whether err says an HTTP/2 request never reached
// the server's processing: refused, above a GOAWAY, or no stream opened.
func unprocessed(err error) bool {
	return errors.Is(err, http2.ErrRefused) || errors.Is(err, http2.ErrStreamLimit) ||
		errors.Is(err, http2.ErrGoingAway) || errors.Is(err, http2.ErrConnClosed)
}

// h2Fields passes fields to the HTTP/2 encoder without copying them (see
// h1Fields).
func h2Fields(fs []HeaderField) []http2.HeaderField {
	var _ = http2.HeaderField(HeaderField{})
	return unsafe.Slice((*http2.HeaderField)(unsafe.Pointer(unsafe.SliceData(fs))), len(fs))
}

// The http2.StreamHandler side.

func (hs *h2stream) Head(s *http2.Stream, rh *http2.ResponseHead) {
	x := hs.x
	x.firstByte()
	hs.head.set(rh, x.method)
	if rh.Status < 200 {
		x.snk.informational(x, &hs.head)
		return
	}
	hs.stopTimer()
	if d := x.t.opts.BodyIdleTimeout; d > 0 && hs.head.HasBody() {
		hs.arm(phaseBody, d)
	}
	x.snk.head(x, &hs.head)
	// A RoundTrip's caller is woken at the end of this read (OnData),
	// once, with the body and end that came in the same read if they did.
	// (A round trip is never sent again, so its stream cannot be listed
	// twice; an Exchange wakes nobody.)
	if _, ok := x.snk.(*roundTrip); ok {
		held := &hs.hc.t.held[hs.hc.c.Loop().ID()]
		hs.nextHeld, *held = *held, hs
	}
}

func (hs *h2stream) Data(s *http2.Stream, p []byte) {
	x := hs.x
	if hs.phase == phaseBody {
		hs.timer.Reset(x.t.opts.BodyIdleTimeout)
	}
	x.snk.body(x, p)
	switch {
	case hs.s != s:
		// The sink ended the exchange.
	case hs.pulled:
		// The body's reader returns the credit (drained).
	case hs.paused:
		hs.unacked += len(p)
	default:
		hs.hc.proto.Consumed(s, len(p))
	}
}

func (hs *h2stream) Trailers(s *http2.Stream, rh *http2.ResponseHead) {
	hs.head.set(rh, "")
	hs.x.snk.trailers(hs.x, &hs.head)
}

func (hs *h2stream) Closed(s *http2.Stream, err error) {
	x := hs.x
	if x.conn != carrier(hs) || hs.s != s {
		return
	}
	retry := false
	if se, ok := err.(*http2.StreamError); ok && se.Remote {
		x.t.stats.streamResets.Add(1)
	}
	switch {
	case err == nil:
	case x.aborted != nil:
		err = x.aborted
	case errors.Is(err, http2.ErrRefused):
		// The server promised it did not process the request. Once a
		// response head arrived the promise is void, and a retry would
		// deliver a second response into the exchange.
		retry = !x.gotByte && x.retries < maxUnprocessedRetries && x.t.isOpen()
		if retry && hs.hc.canPark() && errors.As(err, new(*http2.StreamError)) {
			// Refused while the server allows no stream (it sent its
			// SETTINGS after our HEADERS left): wait here for it to
			// allow one rather than dial (see park).
			hs.park(true)
			return
		}
	case errors.As(err, new(*http2.StreamError)):
		// The server reset the stream (other than REFUSED_STREAM, above)
		// or sent a response we reset as malformed: the connection is
		// alive and the server had the request, which it may have
		// processed. Not a stale connection (DESIGN rule 6): no replay.
	default:
		retry = x.canRetry()
	}
	hs.finish(err, retry)
}

func (hs *h2stream) WindowOpen(s *http2.Stream) {
	hs.pumpUp()
}

// arm starts the timer for a phase of the exchange. Loop.
func (hs *h2stream) arm(phase uint8, d time.Duration) {
	l := hs.hc.c.Loop()
	if hs.timer == nil || hs.timerL != l {
		if hs.timer != nil {
			hs.timer.Stop()
		}
		hs.timerL = l
		hs.timer = l.AfterFunc(d, hs.onTimer)
	} else {
		hs.timer.Reset(d)
	}
	hs.phase = phase
}

func (hs *h2stream) stopTimer() {
	if hs.phase != phaseNone {
		hs.phase = phaseNone
		hs.timer.Stop()
	}
}

// onTimer gives up on the exchange when its phase's time is up: the
// stream is reset, the connection carries on.
func (hs *h2stream) onTimer() {
	x := hs.x
	switch hs.phase {
	case phaseHeader:
		x.abort(hs, ErrHeaderTimeout)
	case phaseBody:
		x.abort(hs, ErrBodyIdleTimeout)
	case phaseParked:
		x.abort(hs, ErrNoStreams)
	}
}

// phaseParked times a parked stream's wait (see park).
const phaseParked = phaseBody + 1

// The carrier side.

func (hs *h2stream) loop() *engine.Loop { return hs.hc.c.Loop() }
func (hs *h2stream) multiplexed() bool  { return true }

// abort resets the stream (CANCEL); the other streams carry on.
func (hs *h2stream) abort(x *exchange, err error) {
	if hs.parked {
		hs.hc.takeParked(hs)
		hs.finish(err, false)
		return
	}
	if hs.s == nil {
		return // not open yet: open sees x.aborted
	}
	hs.hc.proto.Reset(hs.s, http2.ErrCodeCancel)
	hs.hc.flushSoon()
}

func (hs *h2stream) pause(x *exchange) { hs.paused = true }

func (hs *h2stream) resume(x *exchange) {
	hs.paused = false
	if hs.unacked > 0 && hs.s != nil {
		hs.hc.proto.Consumed(hs.s, hs.unacked)
		hs.hc.flushSoon()
	}
	hs.unacked = 0
}

// drained returns the credit of bytes the body's reader took. Bytes of a
// stream that closed were credited to the connection then.
func (hs *h2stream) drained(x *exchange, n int) {
	if hs.s != nil {
		hs.hc.proto.Consumed(hs.s, n)
		hs.hc.flushSoon()
	}
}

// sendBody queues a copy of p for the loop, which frames it as flow
// control allows. x.mu held.
func (hs *h2stream) sendBody(p []byte, last bool) error {
	if len(p) > 0 {
		if hs.up == nil {
			hs.up = bufpool.Get(len(p))
		} else if hs.upOff > 0 && len(hs.up)+len(p) > cap(hs.up) {
			// Move what is left to the front rather than grow: the queue
			// stays within maxUpload plus one write.
			n := copy(hs.up, hs.up[hs.upOff:])
			hs.up, hs.upOff = hs.up[:n], 0
		}
		hs.up = append(bufpool.Grow(hs.up, len(p)), p...)
	}
	hs.upEnd = hs.upEnd || last
	if !hs.upPosted {
		hs.upPosted = true
		if !hs.hc.c.Loop().Post(hs.upFn) {
			hs.upPosted = false
			return engine.ErrClosed
		}
	}
	return nil
}

// sendRoom is what the pump may queue now. x.mu held.
func (hs *h2stream) sendRoom() int { return maxUpload - (len(hs.up) - hs.upOff) }

// pumpUp frames queued request body bytes as the windows allow. Loop.
func (hs *h2stream) pumpUp() {
	x, h := hs.x, hs.hc
	x.mu.Lock()
	hs.upPosted = false
	s := hs.s
	if s == nil {
		x.mu.Unlock()
		return
	}
	// Frame no more than the write queue has room for; the stream then
	// waits, and OnWritten wakes it as the queue drains.
	room := max(h.dataRoom(), 0)
	if len(hs.fixed) > 0 {
		k := min(len(hs.fixed), room)
		if k < len(hs.fixed) {
			h.proto.WaitRoom(s)
		}
		n, _ := h.proto.WriteData(s, hs.fixed[:k], k == len(hs.fixed))
		hs.fixed = hs.fixed[n:]
		room -= n
	}
	before := len(hs.up) - hs.upOff
	if before > 0 || hs.upEnd {
		k := min(before, room)
		n, _ := h.proto.WriteData(s, hs.up[hs.upOff:hs.upOff+k], hs.upEnd && k == before)
		if k < before {
			h.proto.WaitRoom(s)
		}
		hs.upOff += n
		if hs.upOff == len(hs.up) {
			hs.up, hs.upOff = hs.up[:0], 0
			if hs.upEnd {
				bufpool.Put(hs.up)
				hs.up, hs.upEnd = nil, false
			}
		}
	}
	moved := before - (len(hs.up) - hs.upOff)
	x.mu.Unlock()
	h.flushSoon()
	if moved > 0 {
		x.snk.writable(x)
	}
}

// pullBody: a body pipe reads the response and returns credit through
// drained.
func (hs *h2stream) pullBody() { hs.pulled = true }

// h2head is the responseHead of an HTTP/2 stream.
type h2head struct {
	h      *http2.ResponseHead
	method string
}

func (v *h2head) set(rh *http2.ResponseHead, method string) { v.h, v.method = rh, method }

func (v *h2head) StatusCode() int { return v.h.Status }
func (v *h2head) ProtoMajor() int { return 2 }
func (v *h2head) ProtoMinor() int { return 0 }
func (v *h2head) Reason() []byte  { return nil }

// Get returns the value without copying it: valid, and not to be
// modified, during the sink call.
func (v *h2head) Get(name string) []byte {
	s := v.h.Get(name)
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func (v *h2head) Header() http.Header   { return v.h.Header() }
func (v *h2head) Trailer() http.Header  { return v.h.Header() }
func (v *h2head) ContentLength() int64  { return v.h.ContentLength }
func (v *h2head) KeepAlive() bool       { return true }
func (v *h2head) MayHaveTrailers() bool { return v.HasBody() }

// HasBody: no DATA may follow a response to HEAD, a 204 or a 304, nor
// one that declared a zero length. A head that ends the stream has no
// body either; its pipe, if any, just ends at once.
func (v *h2head) HasBody() bool {
	st := v.h.Status
	return v.method != http.MethodHead && st != 204 && st != 304 && v.h.ContentLength != 0
}

// trackH2 keeps the transport's HTTP/2 connections, which the pool holds
// as in use for their whole life, so that Close can close them.
func (t *Transport) trackH2(h *h2conn, add bool) {
	t.h2mu.Lock()
	defer t.h2mu.Unlock()
	if add {
		if t.h2conns == nil {
			t.h2conns = make(map[*h2conn]struct{})
		}
		t.h2conns[h] = struct{}{}
		return
	}
	delete(t.h2conns, h)
}

// closeH2 closes every HTTP/2 connection of the transport.
func (t *Transport) closeH2() {
	t.h2mu.Lock()
	conns := make([]*engine.Conn, 0, len(t.h2conns))
	for h := range t.h2conns {
		conns = append(conns, h.c)
	}
	t.h2mu.Unlock()
	for _, c := range conns {
		c.CloseWithError(ErrTransportClosed)
	}
}
