package http2

import "sync"

// StreamState is where a stream is in the life cycle of RFC 9113 §5.1, as
// a client sees it. A client stream starts open (its HEADERS sent), so
// idle and reserved states do not appear.
type StreamState uint8

const (
	// StateOpen: both sides may send.
	StateOpen StreamState = iota + 1
	// StateHalfClosedLocal: the request is complete (END_STREAM sent);
	// the response is still arriving.
	StateHalfClosedLocal
	// StateHalfClosedRemote: the response is complete (END_STREAM
	// received) while the request is not. A Conn does not stay there: a
	// complete response ends the exchange, so it resets the stream with
	// NO_ERROR (RFC 9113 §8.1) and closes it at once.
	StateHalfClosedRemote
	// StateClosed: the stream is over.
	StateClosed
)

var stateNames = [...]string{"idle", "open", "half-closed (local)", "half-closed (remote)", "closed"}

// String returns the state's name as RFC 9113 spells it.
func (st StreamState) String() string {
	if int(st) < len(stateNames) {
		return stateNames[st]
	}
	return "invalid"
}

// receives reports whether a frame of type t may arrive on a stream in
// state st. The others are a stream error of type STREAM_CLOSED
// (RFC 9113 §5.1): after END_STREAM only WINDOW_UPDATE, PRIORITY and
// RST_STREAM may follow, and after the stream is closed only PRIORITY
// (a Conn also tolerates WINDOW_UPDATE and RST_STREAM there, which may
// have crossed our own RST_STREAM).
func (st StreamState) receives(t FrameType) bool {
	switch st {
	case StateOpen, StateHalfClosedLocal:
		return true
	case StateHalfClosedRemote:
		return t == FrameWindowUpdate || t == FramePriority || t == FrameRSTStream
	}
	return t == FramePriority
}

// sends reports whether we may send frames of the request (DATA or
// trailers) in state st.
func (st StreamState) sends() bool { return st == StateOpen || st == StateHalfClosedRemote }

// StreamHandler receives the events of one stream, synchronously, from
// inside Conn.Feed (or the Conn method that caused them). Its methods run
// on the caller's goroutine and must not block; they may call the Conn's
// methods (Consumed, Reset, WriteData, OpenStream...), but not Feed.
type StreamHandler interface {
	// Head delivers a response head: each 1xx interim head (Status
	// 100-199), then the final one. It is valid during the call.
	Head(s *Stream, h *ResponseHead)
	// Data delivers body bytes, valid during the call only. They count
	// against the stream's flow-control window until Consumed says the
	// application has read them.
	Data(s *Stream, p []byte)
	// Trailers delivers the trailer section, valid during the call.
	Trailers(s *Stream, h *ResponseHead)
	// Closed ends the stream, exactly once: err is nil when the response
	// ended normally (END_STREAM), and a typed error otherwise
	// (*StreamError, *GoAwayError, *ConnError, or the cause given to
	// Conn.Close). s stays readable, in StateClosed, until the outermost
	// Conn call running (Feed, Reset, Close or Init) returns; then it is
	// reused for another stream: drop every reference to it in Closed.
	Closed(s *Stream, err error)
	// WindowOpen says that a stream whose WriteData was cut short by flow
	// control may send again.
	WindowOpen(s *Stream)
}

// Stream is one request and its response on a Conn. It is created by
// Conn.OpenStream and valid until its handler's Closed returns.
type Stream struct {
	conn  *Conn
	h     StreamHandler
	id    uint32
	state StreamState

	// The response.
	final  bool  // the final head arrived
	noBody bool  // HEAD, 204 or 304: no DATA allowed
	isHead bool  // the request was HEAD
	cl     int64 // content-length, or -1
	got    int64 // body bytes received

	recv        recvFlow // our window for the server's DATA
	outstanding int32    // bytes delivered by Data and not yet Consumed
	send        int64    // the server's window for our DATA
	blocked     bool     // WriteData was cut short by a window

	next *Stream // in the Conn's list of streams to recycle
}

// ID returns the stream's identifier.
func (s *Stream) ID() uint32 { return s.id }

// State returns the stream's state.
func (s *Stream) State() StreamState { return s.state }

// Handler returns the handler given to OpenStream.
func (s *Stream) Handler() StreamHandler { return s.h }

// SendWindow returns how many bytes of request body WriteData would take
// now, as far as flow control goes: the smaller of the stream's and the
// connection's send windows, or 0.
func (s *Stream) SendWindow() int {
	if s.conn == nil || !s.state.sends() {
		return 0
	}
	return int(max(min(s.send, s.conn.send), 0))
}

// streamPool recycles Streams: a steady flow of requests allocates none.
var streamPool = sync.Pool{New: func() any { return new(Stream) }}
