package http2

import (
	"math"
	"slices"
	"strconv"
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
// The zero Conn is not ready: call Init. A Conn may be reused for a new
// connection by calling Init again.
type Conn struct {
	cfg   config
	h     ConnHandler
	split Splitter
	dec   responseDecoder
	enc   requestEncoder

	out           []byte // pooled; nil when everything was flushed
	queuedControl int    // frames owed to the server since the last Flushed

	err error // why the connection ended, once it has

	streams map[uint32]*Stream
	active  int
	nextID  uint32
	// resetBits remembers which of the last 512 stream ids we reset, so
	// that frames still in flight for them are dropped quietly, while
	// frames on streams that ended otherwise are an error.
	resetBits [8]uint64

	peer            PeerSettings
	gotSettings     bool
	settingsUnacked int

	recv         recvFlow // the connection's receive window
	send         int64    // the connection's send window
	streamWindow int32    // our SETTINGS_INITIAL_WINDOW_SIZE now
	blocked      []uint32 // streams waiting for a send window
	spare        []uint32
	ids          []uint32
	bdp          bdpEstimator

	goAway     *GoAwayError // the server's, once received
	sentGoAway bool

	tokens     int // the flood budget (see Config.MaxControlFrames)
	lastRefill time.Time

	depth int       // nesting of public calls, for deferred recycling
	dead  []*Stream // closed streams to recycle when depth returns to 0
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
	if c.streams != nil && c.err == nil {
		c.Close(ErrConnClosed)
	}
	c.release()
	if h == nil {
		h = nopConnHandler{}
	}
	streams, blocked, spare, ids, dead := c.streams, c.blocked[:0], c.spare[:0], c.ids[:0], c.dead
	if streams == nil {
		streams = make(map[uint32]*Stream)
	}
	clear(streams)
	*c = Conn{cfg: cfg.resolve(), h: h, streams: streams, blocked: blocked, spare: spare, ids: ids, dead: dead, depth: c.depth, dec: c.dec}
	r := &c.cfg
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
	for i, s := range c.dead {
		*s = Stream{}
		streamPool.Put(s)
		c.dead[i] = nil
	}
	c.dead = c.dead[:0]
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
func (c *Conn) Active() int { return c.active }

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
	if !s.blocked {
		s.blocked = true
		c.blocked = append(c.blocked, s.id)
	}
	return n, nil
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
	if inc := c.recv.credit(n); inc > 0 {
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
// the pool. Nothing is queued; Pending is empty after.
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

// streamIDs returns the ids of the open streams in ascending order, in a
// scratch slice valid until the next call.
func (c *Conn) streamIDs() []uint32 {
	ids := c.ids[:0]
	for id := range c.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	c.ids = ids
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
	c.dead = append(c.dead, s)
	s.h.Closed(s, err)
}

// alive reports whether s is still the open stream id: a handler may
// have closed it.
func (c *Conn) alive(s *Stream, id uint32) bool {
	return s.id == id && s.state != StateClosed && c.err == nil
}

func (c *Conn) setReset(id uint32)   { c.resetBits[id>>7&7] |= 1 << (id >> 1 & 63) }
func (c *Conn) clearReset(id uint32) { c.resetBits[id>>7&7] &^= 1 << (id >> 1 & 63) }

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
	if c.queuedControl >= c.cfg.maxQueuedControl {
		return connErr(ErrCodeEnhanceYourCalm, ErrControlBacklog, h.String())
	}
	c.queuedControl++
	return nil
}

// Feed processes bytes received from the server, all of them, calling
// the handlers as frames complete. Input may be split anywhere. A
// connection error queues our GOAWAY, closes every stream with the error
// and returns it (a *ConnError); so does Feed after that. Stream errors
// queue RST_STREAM and close only their stream. in is not retained.
func (c *Conn) Feed(in []byte) error {
	if c.err != nil {
		return c.err
	}
	c.enter()
	defer c.leave()
	for {
		f, n, err := c.split.Next(in)
		in = in[n:]
		if err != nil {
			return c.fail(err.(*ConnError))
		}
		if f == nil {
			return nil
		}
		if ce := c.frame(f); ce != nil {
			return c.fail(ce)
		}
		if c.err != nil {
			return c.err // a handler closed the connection
		}
	}
}

// frame dispatches one frame.
func (c *Conn) frame(f *Frame) *ConnError {
	if !c.gotSettings && (f.Type != FrameSettings || f.Flags.Has(FlagAck)) {
		return connErr(ErrCodeProtocol, ErrNoSettings, f.FrameHeader.String())
	}
	switch f.Type {
	case FrameData:
		return c.onData(f)
	case FrameHeaders:
		return c.onHeaders(f)
	case FramePriority:
		return c.onPriority(f)
	case FrameRSTStream:
		return c.onRSTStream(f)
	case FrameSettings:
		return c.onSettings(f)
	case FramePushPromise:
		return connErr(ErrCodeProtocol, ErrPushPromise, f.FrameHeader.String())
	case FramePing:
		return c.onPing(f)
	case FrameGoAway:
		return c.onGoAway(f)
	case FrameWindowUpdate:
		return c.onWindowUpdate(f)
	}
	// Unknown types are extensions we did not negotiate: ignored, but
	// not for free.
	return c.charge(f.FrameHeader)
}

// lookup finds the stream a frame is for. It returns nil for a stream
// that is closed; a stream we never opened is a connection error.
func (c *Conn) lookup(h FrameHeader) (*Stream, *ConnError) {
	if s := c.streams[h.StreamID]; s != nil {
		return s, nil
	}
	if h.StreamID&1 == 0 || h.StreamID >= c.nextID {
		return nil, connErr(ErrCodeProtocol, ErrIdleStream, h.String())
	}
	return nil, nil
}

// streamError resets s with code because of what the server sent.
func (c *Conn) streamError(s *Stream, code ErrCode, rule error, seen string) *ConnError {
	if ce := c.resetClosed(FrameHeader{Type: FrameRSTStream, StreamID: s.id}, code); ce != nil {
		return ce
	}
	c.setReset(s.id)
	c.closeStream(s, streamErr(s.id, code, rule, seen))
	return nil
}

// resetClosed queues a RST_STREAM owed to the server.
func (c *Conn) resetClosed(h FrameHeader, code ErrCode) *ConnError {
	if ce := c.queueControl(h); ce != nil {
		return ce
	}
	c.grow(13)
	c.out = AppendRSTStream(c.out, h.StreamID, code)
	return nil
}

// onClosedStream handles DATA or HEADERS for a stream that is closed:
// dropped if we reset it (it crossed our RST_STREAM), otherwise a stream
// error of type STREAM_CLOSED.
func (c *Conn) onClosedStream(h FrameHeader) *ConnError {
	if ce := c.charge(h); ce != nil {
		return ce
	}
	if c.wasReset(h.StreamID) {
		return nil
	}
	return c.resetClosed(h, ErrCodeStreamClosed)
}

func (c *Conn) onData(f *Frame) *ConnError {
	h, data := f.FrameHeader, f.Data
	n := int32(h.Length)
	if !c.recv.take(n) {
		return connErr(ErrCodeFlowControl, ErrFlowControl, h.String()+", connection window "+strconv.Itoa(int(c.recv.win)))
	}
	s, ce := c.lookup(h)
	if ce != nil {
		return ce
	}
	if s == nil {
		c.creditConn(n)
		return c.onClosedStream(h)
	}
	end := h.Flags.Has(FlagEndStream)
	if len(data) == 0 && !end {
		if ce := c.charge(h); ce != nil {
			return ce
		}
	}
	if !s.state.receives(FrameData) {
		c.creditConn(n)
		return c.streamError(s, ErrCodeStreamClosed, ErrStreamClosed, h.String())
	}
	if !s.final {
		c.creditConn(n)
		return c.streamError(s, ErrCodeProtocol, ErrDataBeforeHead, h.String())
	}
	if !s.recv.take(n) {
		c.creditConn(n)
		return c.streamError(s, ErrCodeFlowControl, ErrFlowControl, h.String()+", stream window "+strconv.Itoa(int(s.recv.win)))
	}
	// Padding is nobody's to read: its credit returns at once.
	if pad := n - int32(len(data)); pad > 0 {
		c.creditConn(pad)
		c.creditStream(s, pad)
	}
	s.got += int64(len(data))
	if s.noBody && s.got > 0 || s.cl >= 0 && s.got > s.cl {
		c.creditConn(int32(len(data)))
		return c.streamError(s, ErrCodeProtocol, ErrContentLengthMismatch,
			"got "+strconv.FormatInt(s.got, 10)+" bytes, content-length "+strconv.FormatInt(s.cl, 10))
	}
	// A sample starts on DATA that announces a body of a quarter window
	// or more to come, or of unknown length.
	start := !end && (s.cl < 0 || s.cl-s.got >= int64(c.streamWindow)/4)
	if n > 0 && c.bdp.data(n, start, c.cfg.now) {
		c.grow(17)
		c.out = AppendPing(c.out, false, bdpPing)
		c.earn(1)
	}
	id := s.id
	if len(data) > 0 {
		s.outstanding += int32(len(data))
		s.h.Data(s, data)
		if !c.alive(s, id) {
			return nil
		}
	}
	if end {
		if !s.noBody && s.cl >= 0 && s.got != s.cl {
			return c.streamError(s, ErrCodeProtocol, ErrContentLengthMismatch,
				"got "+strconv.FormatInt(s.got, 10)+" bytes, content-length "+strconv.FormatInt(s.cl, 10))
		}
		c.remoteEnd(s)
	}
	return nil
}

// creditStream returns n bytes to a stream's window.
func (c *Conn) creditStream(s *Stream, n int32) {
	if inc := s.recv.credit(n); inc > 0 {
		c.grow(13)
		c.out = AppendWindowUpdate(c.out, s.id, inc)
	}
}

// remoteEnd ends the response: END_STREAM arrived. A request still being
// sent is cut off with RST_STREAM NO_ERROR: the exchange is over.
func (c *Conn) remoteEnd(s *Stream) {
	if s.state.sends() {
		c.grow(13)
		c.out = AppendRSTStream(c.out, s.id, ErrCodeNo)
		c.setReset(s.id)
	}
	c.closeStream(s, nil)
}

func (c *Conn) onHeaders(f *Frame) *ConnError {
	h := f.FrameHeader
	s, ce := c.lookup(h)
	if ce != nil {
		return ce
	}
	// Decode whatever the stream: the HPACK state depends on every block.
	trailers := s != nil && s.final
	if cerr, rule, seen := c.dec.decode(f.Data, trailers); cerr != nil {
		return cerr.(*ConnError)
	} else if s == nil {
		return c.onClosedStream(h)
	} else if !s.state.receives(FrameHeaders) {
		return c.streamError(s, ErrCodeStreamClosed, ErrStreamClosed, h.String())
	} else if rule != nil {
		return c.streamError(s, ErrCodeProtocol, rule, seen)
	}
	end := h.Flags.Has(FlagEndStream)
	head := &c.dec.head
	id := s.id
	if trailers {
		if !end {
			return c.streamError(s, ErrCodeProtocol, ErrTrailersNoEndStream, h.String())
		}
		if !s.noBody && s.cl >= 0 && s.got != s.cl {
			return c.streamError(s, ErrCodeProtocol, ErrContentLengthMismatch,
				"got "+strconv.FormatInt(s.got, 10)+" bytes, content-length "+strconv.FormatInt(s.cl, 10))
		}
		s.h.Trailers(s, head)
		if c.alive(s, id) {
			c.remoteEnd(s)
		}
		return nil
	}
	switch st := head.Status; {
	case st == 101:
		return c.streamError(s, ErrCodeProtocol, ErrSwitchingProtocols, ":status 101")
	case st < 200:
		if end {
			return c.streamError(s, ErrCodeProtocol, ErrInterimEndStream, ":status "+strconv.Itoa(st))
		}
		// Interim heads carry no body and could come forever: each
		// costs a token.
		if ce := c.charge(h); ce != nil {
			return ce
		}
		s.h.Head(s, head)
		return nil
	}
	s.final = true
	s.cl = head.ContentLength
	s.noBody = s.isHead || head.Status == 204 || head.Status == 304
	if end && !s.noBody && s.cl > 0 {
		return c.streamError(s, ErrCodeProtocol, ErrContentLengthMismatch,
			"END_STREAM on the head, content-length "+strconv.FormatInt(s.cl, 10))
	}
	s.h.Head(s, head)
	if end && c.alive(s, id) {
		c.remoteEnd(s)
	}
	return nil
}

func (c *Conn) onPriority(f *Frame) *ConnError {
	h := f.FrameHeader
	if ce := c.charge(h); ce != nil {
		return ce
	}
	if h.Length != 5 {
		// A stream error (RFC 9113 §6.3), for a stream of ours.
		if s := c.streams[h.StreamID]; s != nil {
			return c.streamError(s, ErrCodeFrameSize, ErrFrameSize, h.String())
		}
	}
	return nil
}

func (c *Conn) onRSTStream(f *Frame) *ConnError {
	h := f.FrameHeader
	if ce := c.charge(h); ce != nil {
		return ce
	}
	s, ce := c.lookup(h)
	if ce != nil || s == nil {
		return ce
	}
	code := ErrCode(be32(f.Data))
	reason := ErrStreamReset
	if code == ErrCodeRefusedStream {
		reason = ErrRefused
	}
	c.closeStream(s, &StreamError{StreamID: s.id, Code: code, Remote: true, Err: reason})
	return nil
}

func (c *Conn) onSettings(f *Frame) *ConnError {
	h := f.FrameHeader
	if ce := c.charge(h); ce != nil {
		return ce
	}
	if h.Flags.Has(FlagAck) {
		if c.settingsUnacked > 0 {
			c.settingsUnacked--
			// Our table size now binds the server's encoder.
			c.dec.dec.SetAllowedMaxDynamicTableSize(c.cfg.headerTableSize)
		}
		return nil
	}
	if ce := c.queueControl(h); ce != nil {
		return ce
	}
	if !c.gotSettings {
		c.gotSettings = true
		// A server that names no limit has none.
		c.peer.MaxConcurrentStreams = math.MaxUint32
	}
	opened := false
	for p := f.Data; len(p) >= 6; p = p[6:] {
		id, v := SettingID(uint16(p[0])<<8|uint16(p[1])), be32(p[2:])
		st := Setting{id, v}.String()
		switch id {
		case SettingHeaderTableSize:
			c.peer.HeaderTableSize = v
			c.enc.enc.SetMaxDynamicTableSize(min(v, InitialHeaderTableSize))
		case SettingEnablePush:
			if v > 1 {
				return connErr(ErrCodeProtocol, ErrBadSetting, st)
			}
		case SettingMaxConcurrentStreams:
			c.peer.MaxConcurrentStreams = v
		case SettingInitialWindowSize:
			if v > MaxWindowSize {
				return connErr(ErrCodeFlowControl, ErrBadSetting, st)
			}
			delta := int64(v) - int64(c.peer.InitialWindowSize)
			for _, s := range c.streams {
				if !addWindow(&s.send, delta) {
					return connErr(ErrCodeFlowControl, ErrWindowOverflow, st+" on stream "+strconv.FormatUint(uint64(s.id), 10))
				}
			}
			c.peer.InitialWindowSize = v
			opened = opened || delta > 0
		case SettingMaxFrameSize:
			if v < MinMaxFrameSize || v > MaxMaxFrameSize {
				return connErr(ErrCodeProtocol, ErrBadSetting, st)
			}
			c.peer.MaxFrameSize = v
		case SettingMaxHeaderListSize:
			c.peer.MaxHeaderListSize = v
		}
	}
	c.grow(FrameHeaderLen)
	c.out = AppendSettingsAck(c.out)
	c.h.Settings(c, c.peer)
	if opened && c.err == nil {
		c.wake()
	}
	return nil
}

func (c *Conn) onPing(f *Frame) *ConnError {
	h := f.FrameHeader
	if ce := c.charge(h); ce != nil {
		return ce
	}
	data := [8]byte(f.Data)
	if !h.Flags.Has(FlagAck) {
		if ce := c.queueControl(h); ce != nil {
			return ce
		}
		c.grow(17)
		c.out = AppendPing(c.out, true, data)
		return nil
	}
	if data == bdpPing && c.bdp.pinging {
		if w := c.bdp.ack(c.cfg.now()); w > 0 {
			c.growStreamWindow(w)
		}
		return nil
	}
	c.h.PingAck(c, data)
	return nil
}

// growStreamWindow raises our SETTINGS_INITIAL_WINDOW_SIZE to w, which
// the server applies to every stream, and the connection window with it.
func (c *Conn) growStreamWindow(w int32) {
	delta := w - c.streamWindow
	if delta <= 0 {
		return
	}
	c.streamWindow = w
	c.grow(FrameHeaderLen + 6)
	c.out = AppendSettings(c.out, Setting{SettingInitialWindowSize, uint32(w)})
	c.settingsUnacked++
	c.earn(1)
	for _, s := range c.streams {
		s.recv.grow(delta)
	}
	c.growConnWindow(max(int64(w)*int64(max(c.active, 1)), int64(c.recv.target)))
}

func (c *Conn) onGoAway(f *Frame) *ConnError {
	h := f.FrameHeader
	if ce := c.charge(h); ce != nil {
		return ce
	}
	last := be32(f.Data) & maxStreamID
	if c.goAway != nil {
		// A later GOAWAY may lower the last stream id, never raise it.
		last = min(last, c.goAway.LastStreamID)
	}
	e := &GoAwayError{LastStreamID: last, Code: ErrCode(be32(f.Data[4:])), Debug: string(f.Data[8:min(len(f.Data), 8+maxDebug)])}
	c.goAway = e
	c.h.GoAway(c, e)
	for _, id := range c.streamIDs() {
		if s := c.streams[id]; s != nil && id > last && c.err == nil {
			c.closeStream(s, &GoAwayError{LastStreamID: last, Code: e.Code, Debug: e.Debug, StreamID: id})
		}
	}
	return nil
}

func (c *Conn) onWindowUpdate(f *Frame) *ConnError {
	h := f.FrameHeader
	if ce := c.charge(h); ce != nil {
		return ce
	}
	inc := int64(be32(f.Data) & (1<<31 - 1))
	if h.StreamID == 0 {
		if inc == 0 {
			return connErr(ErrCodeProtocol, ErrZeroWindowUpdate, h.String())
		}
		if !addWindow(&c.send, inc) {
			return connErr(ErrCodeFlowControl, ErrWindowOverflow, h.String()+", connection window "+strconv.FormatInt(c.send, 10))
		}
		c.wake()
		return nil
	}
	s, ce := c.lookup(h)
	if ce != nil || s == nil {
		return ce
	}
	if inc == 0 {
		return c.streamError(s, ErrCodeProtocol, ErrZeroWindowUpdate, h.String())
	}
	if !addWindow(&s.send, inc) {
		return c.streamError(s, ErrCodeFlowControl, ErrWindowOverflow, h.String()+", stream window "+strconv.FormatInt(s.send, 10))
	}
	if s.blocked && s.send > 0 && c.send > 0 {
		c.wake()
	}
	return nil
}

// wake calls WindowOpen for the blocked streams that may send again.
func (c *Conn) wake() {
	if c.send <= 0 || len(c.blocked) == 0 {
		return
	}
	// Handlers may block again while this runs: they append to a fresh
	// list, and the streams not woken are kept on it.
	list := c.blocked
	c.blocked, c.spare = c.spare[:0], list
	for i, id := range list {
		s := c.streams[id]
		switch {
		case s == nil || !s.blocked:
		case c.err != nil || s.send <= 0 || c.send <= 0:
			c.blocked = append(c.blocked, id)
		default:
			s.blocked = false
			s.h.WindowOpen(s)
		}
		list[i] = 0
	}
}
