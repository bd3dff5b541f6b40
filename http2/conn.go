package http2

import (
	"math"
	"slices"
	"time"

	"github.com/egress-go/egress/internal/bufpool"
)

// maxStreamID is the last stream id a client may use.
const maxStreamID = 1<<31 - 1

// PeerSettings are the server's SETTINGS as they stand.
type PeerSettings struct {
	HeaderTableSize uint32
	// MaxConcurrentStreams is the server's limit on the streams we may
	// have open: 100 assumed until its first SETTINGS, unlimited
	// (math.MaxUint32) if that does not name one.
	MaxConcurrentStreams uint32
	InitialWindowSize    uint32
	MaxFrameSize         uint32
	// MaxHeaderListSize is the largest request head the server accepts;
	// 0 when it did not say.
	MaxHeaderListSize uint32
}

// ConnHandler receives the events that concern the whole connection,
// synchronously, from inside Conn.Feed. Its methods must not block; they
// may call the Conn's methods, but not Feed.
type ConnHandler interface {
	// Settings reports the server's settings after each SETTINGS frame
	// it sends, so that the caller learns MAX_CONCURRENT_STREAMS changes.
	Settings(c *Conn, s PeerSettings)
	// PingAck reports the acknowledgement of a PING sent with Ping.
	PingAck(c *Conn, data [8]byte)
	// GoAway reports a GOAWAY. No new stream may open on the connection;
	// the streams above e.LastStreamID are closed right after the call
	// with an error that errors.Is(err, ErrRefused), and the others may
	// complete.
	GoAway(c *Conn, e *GoAwayError)
}

// Conn is the client side of one HTTP/2 connection, as a pure state
// machine: the caller feeds it what the socket delivered (Feed), sends
// what it queues (Pending, Flushed), and drives streams through its
// methods; events come back through a ConnHandler and a StreamHandler per
// stream. It makes no system calls, starts no goroutines, reads no clock
// but Config.Now, and is not safe for concurrent use: an event loop owns
// it.
//
// The zero Conn is not ready: call Init. A Conn may be embedded in the
// caller's per-connection state, but not copied after Init (its HPACK
// coders point into it), and reused for a new connection by calling Init
// again.
type Conn struct {
	// Thousands of idle connections each keep one: the fields are ordered
	// to leave no padding, and what only some connections use is kept
	// out of line (see TestConnSize).
	cfg   *config // shared: see Config.shared
	h     ConnHandler
	split Splitter
	dec   responseDecoder
	enc   requestEncoder

	out []byte // pooled; nil when everything was flushed
	err error  // why the connection ended, once it has

	streams map[uint32]*Stream
	goAway  *GoAwayError // the server's, once received
	wait    *sendWait    // streams waiting for a send window; made on first use
	dead    *Stream      // closed streams to recycle when depth returns to 0, linked by next
	bdp     bdpEstimator

	// resetBits remembers which of the last 512 stream ids we reset, so
	// that frames still in flight for them are dropped quietly, while
	// frames on streams that ended otherwise are an error. endedBits
	// remembers which the server ended with END_STREAM: DATA or HEADERS
	// after that cannot have crossed anything of ours, so they end the
	// connection (see onClosedStream).
	resetBits [8]uint64
	endedBits [8]uint64

	send       int64 // the connection's send window
	tokens     int   // the flood budget (see Config.MaxControlFrames)
	lastRefill time.Time

	peer            PeerSettings
	recv            recvFlow // the connection's receive window
	nextID          uint32
	active          int32
	streamWindow    int32 // our SETTINGS_INITIAL_WINDOW_SIZE now
	queuedControl   int32 // frames owed to the server since the last Flushed
	settingsUnacked int32
	depth           int32 // nesting of public calls, for deferred recycling
	gotSettings     bool
	sentGoAway      bool
}

// sendWait lists the streams whose request bodies wait for a send window:
// blocked, and spare, the list wake swaps in while it runs.
type sendWait struct {
	blocked, spare []uint32
}

type nopConnHandler struct{}

func (nopConnHandler) Settings(*Conn, PeerSettings) {}
func (nopConnHandler) PingAck(*Conn, [8]byte)       {}
func (nopConnHandler) GoAway(*Conn, *GoAwayError)   {}

// Init starts a connection: it queues the client preface, our SETTINGS
// (ENABLE_PUSH 0 and the configured INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE,
// MAX_HEADER_LIST_SIZE and HEADER_TABLE_SIZE), and a WINDOW_UPDATE when
// the connection window is larger than the protocol's initial 65535. A
// Conn in use is closed first. h may be nil.
func (c *Conn) Init(cfg Config, h ConnHandler) {
	c.enter()
	defer c.leave()
	if c.nextID != 0 && c.err == nil {
		c.Close(ErrConnClosed)
	}
	c.release()
	if h == nil {
		h = nopConnHandler{}
	}
	// The stream table is made by the first OpenStream.
	streams, wait := c.streams, c.wait
	clear(streams)
	if wait != nil {
		wait.blocked, wait.spare = wait.blocked[:0], wait.spare[:0]
	}
	*c = Conn{cfg: cfg.shared(), h: h, streams: streams, wait: wait, dead: c.dead, depth: c.depth, dec: c.dec}
	r := c.cfg
	c.split = Splitter{MaxFrameSize: r.maxFrameSize, MaxHeaderBlock: r.maxHeaderBlockBytes}
	// Until the server has our SETTINGS its encoder may use the default
	// table size, so a smaller setting applies only once acknowledged.
	c.dec.init(max(r.headerTableSize, InitialHeaderTableSize), r.maxHeaderListSize)
	c.enc.init()
	c.nextID = 1
	c.peer = PeerSettings{
		HeaderTableSize:      InitialHeaderTableSize,
		MaxConcurrentStreams: assumedMaxStreams,
		InitialWindowSize:    InitialWindowSize,
		MaxFrameSize:         MinMaxFrameSize,
	}
	c.send = InitialWindowSize
	c.streamWindow = r.streamWindow
	c.recv.init(InitialWindowSize)
	if r.bdp {
		c.bdp.init(r.streamWindow, r.maxStreamWindow)
	} else {
		c.bdp.init(r.streamWindow, r.streamWindow)
	}
	c.tokens, c.lastRefill = r.maxControlFrames, r.now()

	c.grow(len(ClientPreface) + 2*FrameHeaderLen + 5*6 + 4)
	c.out = AppendPreface(c.out)
	c.out = AppendSettings(c.out,
		Setting{SettingEnablePush, 0},
		Setting{SettingInitialWindowSize, uint32(r.streamWindow)},
		Setting{SettingMaxFrameSize, r.maxFrameSize},
		Setting{SettingMaxHeaderListSize, r.maxHeaderListSize},
		Setting{SettingHeaderTableSize, r.headerTableSize})
	c.settingsUnacked = 1
	c.growConnWindow(int64(r.connWindow))
}

// enter and leave bracket the public methods that may close streams:
// a closed Stream is recycled only when the outermost call returns, so
// that code running after a handler (which may have closed its stream)
// can still look at it.
func (c *Conn) enter() { c.depth++ }

func (c *Conn) leave() {
	c.depth--
	if c.depth > 0 {
		return
	}
	for s := c.dead; s != nil; {
		next := s.next
		*s = Stream{}
		streamPool.Put(s)
		s = next
	}
	c.dead = nil
}

// grow makes room for n more bytes of output.
func (c *Conn) grow(n int) {
	if c.out == nil {
		c.out = bufpool.Get(max(n, 512))
		return
	}
	c.out = bufpool.Grow(c.out, n)
}

// Pending returns the bytes queued to send: our frames, in order. The
// slice is valid until the next call to a Conn method.
func (c *Conn) Pending() []byte { return c.out }

// Flushed tells the Conn that everything Pending returned was handed to
// the socket (copied): the output buffer goes back to the pool, so an
// idle connection holds none.
func (c *Conn) Flushed() {
	if c.out != nil {
		bufpool.Put(c.out)
		c.out = nil
	}
	c.queuedControl = 0
}

// Err returns why the connection ended (a *ConnError, the cause given to
// Close), or nil while it is usable.
func (c *Conn) Err() error { return c.err }

// Peer returns the server's settings as they stand.
func (c *Conn) Peer() PeerSettings { return c.peer }

// Active returns the number of open streams.
func (c *Conn) Active() int { return int(c.active) }

// GoingAway reports whether a GOAWAY was received or sent: the streams
// open may complete, but no new one may open.
func (c *Conn) GoingAway() bool { return c.goAway != nil || c.sentGoAway }

// Available returns how many more streams may open now: the server's
// MAX_CONCURRENT_STREAMS less those open, and 0 once the connection ended
// or is going away or has used up its stream ids.
func (c *Conn) Available() int {
	if c.err != nil || c.GoingAway() || c.nextID > maxStreamID {
		return 0
	}
	limit := int64(c.peer.MaxConcurrentStreams)
	left := limit - int64(c.active)
	if ids := int64(maxStreamID-c.nextID)/2 + 1; left > ids {
		left = ids
	}
	return int(max(min(left, math.MaxInt32), 0))
}

// CanOpen reports whether OpenStream would succeed as far as stream
// counts go.
func (c *Conn) CanOpen() bool { return c.Available() > 0 }

// Done reports whether the connection has nothing more to do: it ended,
// or it is going away and its last stream closed. The caller flushes
// Pending and closes the socket.
func (c *Conn) Done() bool { return c.err != nil || c.GoingAway() && c.active == 0 }

// OpenStream starts a request: it encodes req into HEADERS (with
// END_STREAM if endStream, when the request has no body) and returns the
// new stream, whose events go to h (which must not be nil). It fails, sending nothing, with
// ErrStreamLimit when the server's MAX_CONCURRENT_STREAMS streams are
// open, ErrGoingAway after a GOAWAY or when stream ids are used up,
// ErrConnClosed once the connection ended, or a *RequestError for fields
// that cannot be sent, including a head larger than the server's
// MAX_HEADER_LIST_SIZE.
func (c *Conn) OpenStream(h StreamHandler, req *Request, endStream bool) (*Stream, error) {
	switch {
	case c.err != nil:
		return nil, ErrConnClosed
	case c.GoingAway() || c.nextID > maxStreamID:
		return nil, ErrGoingAway
	case uint32(c.active) >= c.peer.MaxConcurrentStreams:
		return nil, ErrStreamLimit
	}
	id := c.nextID
	c.enc.ensure(c.peer.HeaderTableSize)
	if err := c.appendHeaders(id, endStream, func(dst []byte) ([]byte, error) {
		return c.enc.encodeRequest(dst, req, c.peer.MaxHeaderListSize)
	}); err != nil {
		return nil, err
	}
	c.nextID += 2
	c.clearReset(id)

	s := streamPool.Get().(*Stream)
	*s = Stream{conn: c, h: h, id: id, state: StateOpen, cl: -1, send: int64(c.peer.InitialWindowSize), isHead: req.Method == "HEAD"}
	if endStream {
		s.state = StateHalfClosedLocal
	}
	s.recv.init(c.streamWindow)
	if c.streams == nil {
		c.streams = make(map[uint32]*Stream)
	}
	c.streams[id] = s
	c.active++
	c.earn(8)
	// Keep the connection window above what the open streams can hold
	// unread, so that stalled readers cannot stall the others.
	c.growConnWindow(min(int64(c.streamWindow)*int64(c.active), int64(c.cfg.maxConnWindow)))
	return s, nil
}

// appendHeaders queues a header block that encode appends, framed as
// HEADERS and CONTINUATIONs for stream id. On error nothing is queued.
func (c *Conn) appendHeaders(id uint32, endStream bool, encode func(dst []byte) ([]byte, error)) error {
	c.grow(FrameHeaderLen + 256)
	start := len(c.out)
	// Encode straight into the output, after room for the frame header.
	out, err := encode(append(c.out, make([]byte, FrameHeaderLen)...))
	if err != nil {
		c.out = out[:start]
		return err
	}
	block := out[start+FrameHeaderLen:]
	if len(block) <= int(c.peer.MaxFrameSize) {
		fl := FlagEndHeaders
		if endStream {
			fl |= FlagEndStream
		}
		AppendFrameHeader(out[start:start], FrameHeader{Length: uint32(len(block)), Type: FrameHeaders, Flags: fl, StreamID: id})
		c.out = out
		return nil
	}
	// Too large for one frame: re-frame it with CONTINUATIONs.
	tmp := append(bufpool.Get(len(block)), block...)
	c.out = AppendHeaders(out[:start], id, endStream, tmp, c.peer.MaxFrameSize)
	bufpool.Put(tmp)
	return nil
}

// WriteData queues as much of p as the send windows (the stream's and
// the connection's) allow, in DATA frames no larger than the server's
// MAX_FRAME_SIZE, with END_STREAM on the last if end and all of p fits.
// It returns the bytes taken; when fewer than len(p), the stream's
// handler gets WindowOpen when it may send again. With end and an empty
// p, it ends the request body. It fails with ErrStreamDone when the
// request already ended or the stream is closed, and ErrConnClosed once
// the connection ended.
func (c *Conn) WriteData(s *Stream, p []byte, end bool) (int, error) {
	if c.err != nil {
		return 0, ErrConnClosed
	}
	if s.conn != c || !s.state.sends() {
		return 0, ErrStreamDone
	}
	if len(p) == 0 && !end {
		return 0, nil
	}
	n := 0
	for {
		k := int(max(min(int64(len(p)-n), c.send, s.send, int64(c.peer.MaxFrameSize)), 0))
		last := end && n+k == len(p)
		if k == 0 && !last {
			break
		}
		c.grow(FrameHeaderLen + k)
		c.out = AppendData(c.out, s.id, last, p[n:n+k])
		c.send -= int64(k)
		s.send -= int64(k)
		n += k
		c.earn(2)
		if last {
			c.localEnd(s)
			return n, nil
		}
		if n == len(p) {
			return n, nil
		}
	}
	c.block(s)
	return n, nil
}

// block lists s among the streams waiting to send.
func (c *Conn) block(s *Stream) {
	if !s.blocked {
		s.blocked = true
		if c.wait == nil {
			c.wait = new(sendWait)
		}
		c.wait.blocked = append(c.wait.blocked, s.id)
	}
}

// WaitRoom lists s among the streams waiting to send, as WriteData does
// when flow control cuts it short, for a caller that frames less than it
// has because its own output is full: WindowOpen reaches s's handler at
// the next Wake that finds s's windows open (or, if they are not, when
// the server opens them).
func (c *Conn) WaitRoom(s *Stream) {
	if c.err == nil && s.conn == c && s.state.sends() {
		c.block(s)
	}
}

// Waiting reports whether a stream waits to send (see WaitRoom).
func (c *Conn) Waiting() bool { return c.wait != nil && len(c.wait.blocked) > 0 }

// Wake calls WindowOpen for the streams waiting to send whose windows are
// open: for a caller whose output has room again (see WaitRoom).
func (c *Conn) Wake() {
	if c.err != nil || !c.Waiting() {
		return
	}
	c.enter()
	defer c.leave()
	c.wake()
}

// WriteTrailers ends the request with a trailer section. The fields
// follow the rules of Request.Fields; pseudo-header fields are refused.
func (c *Conn) WriteTrailers(s *Stream, fields []HeaderField) error {
	if c.err != nil {
		return ErrConnClosed
	}
	if s.conn != c || !s.state.sends() {
		return ErrStreamDone
	}
	c.enc.ensure(c.peer.HeaderTableSize)
	if err := c.appendHeaders(s.id, true, func(dst []byte) ([]byte, error) {
		return c.enc.encodeTrailers(dst, fields, c.peer.MaxHeaderListSize)
	}); err != nil {
		return err
	}
	c.localEnd(s)
	return nil
}

// localEnd moves s past the end of its request.
func (c *Conn) localEnd(s *Stream) {
	if s.state == StateOpen {
		s.state = StateHalfClosedLocal
	}
}

// Consumed tells the Conn that the application has read (or discarded) n
// more body bytes of s: their flow-control credit goes back to the
// server, batched into WINDOW_UPDATEs. Bytes still unread when a stream
// closes are credited to the connection then; after Closed there is
// nothing to report.
func (c *Conn) Consumed(s *Stream, n int) {
	if c.err != nil || s.conn != c || s.state == StateClosed || n <= 0 {
		return
	}
	k := int32(min(n, int(s.outstanding)))
	s.outstanding -= k
	c.creditConn(k)
	if inc := s.recv.credit(k); inc > 0 {
		c.grow(13)
		c.out = AppendWindowUpdate(c.out, s.id, inc)
	}
}

// creditConn returns n bytes to the connection window.
func (c *Conn) creditConn(n int32) {
	if n <= 0 {
		return
	}
	if inc := c.recv.creditShared(n); inc > 0 {
		c.grow(13)
		c.out = AppendWindowUpdate(c.out, 0, inc)
	}
}

// growConnWindow raises the connection's receive window to size, if it is
// smaller, announcing the difference at once.
func (c *Conn) growConnWindow(size int64) {
	size = min(size, int64(c.cfg.maxConnWindow))
	if delta := size - int64(c.recv.target); delta > 0 {
		c.recv.grow(int32(delta))
		c.grow(13)
		c.out = AppendWindowUpdate(c.out, 0, uint32(delta))
	}
}

// Reset cancels s: it queues RST_STREAM with code (CANCEL for a request
// given up) and closes the stream at once, calling its handler's Closed
// with a *StreamError wrapping ErrLocalReset. DATA the server still
// sends for it is credited to the connection and dropped.
func (c *Conn) Reset(s *Stream, code ErrCode) {
	if s.conn != c || s.state == StateClosed {
		return
	}
	c.enter()
	defer c.leave()
	if c.err == nil {
		c.grow(13)
		c.out = AppendRSTStream(c.out, s.id, code)
	}
	c.setReset(s.id)
	c.closeStream(s, &StreamError{StreamID: s.id, Code: code, Err: ErrLocalReset})
}

// Ping queues a PING carrying data; the ConnHandler's PingAck reports its
// acknowledgement. Use it for health checks. The payload must differ
// from the one the bandwidth estimator uses ("egress" and two bytes
// 0xbd 0x70).
func (c *Conn) Ping(data [8]byte) error {
	if c.err != nil {
		return ErrConnClosed
	}
	c.grow(17)
	c.out = AppendPing(c.out, false, data)
	c.earn(1)
	return nil
}

// Shutdown queues a GOAWAY with NO_ERROR: the client will open no more
// streams; those open may complete (Done reports when they have).
func (c *Conn) Shutdown() {
	if c.err != nil || c.sentGoAway {
		return
	}
	c.sentGoAway = true
	c.grow(17)
	c.out = AppendGoAway(c.out, 0, ErrCodeNo, nil)
}

// Close ends the connection from outside the protocol (the socket failed
// or closed, the caller gave up): every open stream's handler gets Closed
// with cause (ErrConnClosed if nil), and the Conn's buffers go back to
// the pool. Pending is empty after, so a caller closing the socket after
// a connection error flushes Pending (our GOAWAY) first.
func (c *Conn) Close(cause error) {
	c.enter()
	defer c.leave()
	if cause == nil {
		cause = ErrConnClosed
	}
	if c.err == nil {
		c.err = cause
	}
	c.failStreams(cause)
	c.release()
}

// Compact gives back the memory a connection keeps between streams, for
// one that has had no stream open for a while: the HPACK encoder with the
// request fields its dynamic table indexed, and the storage of the stream
// table, of the decoded response fields and of scratch lists. The next
// stream makes them anew; its header block starts by emptying the
// server's copy of our dynamic table (table size updates to 0 and back,
// RFC 7541 §6.3), so that its fields go out literally once more, as on a
// new connection. It does nothing while a stream is open, from inside a
// handler, or once the connection ended.
func (c *Conn) Compact() {
	if c.depth > 0 || c.active > 0 || c.err != nil {
		return
	}
	c.enc.release()
	c.streams = nil
	c.dec.head.Fields = nil
	c.wait = nil
}

// release gives the Conn's pooled buffers back.
func (c *Conn) release() {
	c.split.Reset()
	if c.out != nil {
		bufpool.Put(c.out)
		c.out = nil
	}
	c.queuedControl = 0
}

// failStreams closes every stream with err, in the order they opened.
func (c *Conn) failStreams(err error) {
	for _, id := range c.streamIDs() {
		if s := c.streams[id]; s != nil {
			c.closeStream(s, err)
		}
	}
}

// streamIDs returns the ids of the open streams in ascending order. It
// is for the connection's end and GOAWAY, and allocates.
func (c *Conn) streamIDs() []uint32 {
	if len(c.streams) == 0 {
		return nil
	}
	ids := make([]uint32, 0, len(c.streams))
	for id := range c.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// fail ends the connection with a connection error: it queues our GOAWAY
// and closes every stream with the error.
func (c *Conn) fail(e *ConnError) error {
	if c.err != nil {
		return c.err
	}
	c.err = e
	c.grow(FrameHeaderLen + 8 + len(e.Err.Error()))
	c.out = AppendGoAway(c.out, 0, e.Code, []byte(e.Err.Error()))
	c.failStreams(e)
	c.split.Reset()
	return e
}

// closeStream removes s and tells its handler. It is recycled when the
// outermost Conn call returns.
func (c *Conn) closeStream(s *Stream, err error) {
	if s.state == StateClosed {
		return
	}
	delete(c.streams, s.id)
	c.active--
	s.state = StateClosed
	if c.err == nil {
		// The application drops what it had not read.
		c.creditConn(s.outstanding)
	}
	s.outstanding = 0
	s.next, c.dead = c.dead, s
	s.h.Closed(s, err)
}

// alive reports whether s is still the open stream id: a handler may
// have closed it.
func (c *Conn) alive(s *Stream, id uint32) bool {
	return s.id == id && s.state != StateClosed && c.err == nil
}

func (c *Conn) setReset(id uint32) { c.resetBits[id>>7&7] |= 1 << (id >> 1 & 63) }
func (c *Conn) setEnded(id uint32) { c.endedBits[id>>7&7] |= 1 << (id >> 1 & 63) }

// clearReset forgets what an earlier stream of the same bit did, for a
// new stream id.
func (c *Conn) clearReset(id uint32) {
	c.resetBits[id>>7&7] &^= 1 << (id >> 1 & 63)
	c.endedBits[id>>7&7] &^= 1 << (id >> 1 & 63)
}

// endedByServer reports whether the server ended stream id with
// END_STREAM (and we did not reset it). Call it after wasReset.
func (c *Conn) endedByServer(id uint32) bool {
	return c.endedBits[id>>7&7]&(1<<(id>>1&63)) != 0
}

// wasReset reports whether we reset stream id (or it is too old to tell,
// in which case frames for it are dropped too).
func (c *Conn) wasReset(id uint32) bool {
	if id+1024 <= c.nextID {
		return true
	}
	return c.resetBits[id>>7&7]&(1<<(id>>1&63)) != 0
}

// earn adds n tokens to the flood budget, for traffic of ours that the
// server may answer with control frames.
func (c *Conn) earn(n int) { c.tokens = min(c.tokens+n, c.cfg.maxControlFrames) }

// charge takes a token from the flood budget for a cheap frame, or
// returns the connection error for a flood.
func (c *Conn) charge(h FrameHeader) *ConnError {
	if c.tokens <= 0 {
		now := c.cfg.now()
		if add := int64(now.Sub(c.lastRefill)) * int64(c.cfg.controlFrameRate) / int64(time.Second); add > 0 {
			c.tokens = int(min(int64(c.tokens)+add, int64(c.cfg.maxControlFrames)))
			c.lastRefill = now
		}
		if c.tokens <= 0 {
			return connErr(ErrCodeEnhanceYourCalm, ErrFlood, h.String())
		}
	}
	c.tokens--
	return nil
}

// queueControl checks that one more frame owed to the server fits in the
// unflushed output.
func (c *Conn) queueControl(h FrameHeader) *ConnError {
	if int(c.queuedControl) >= c.cfg.maxQueuedControl {
		return connErr(ErrCodeEnhanceYourCalm, ErrControlBacklog, h.String())
	}
	c.queuedControl++
	return nil
}
