package http2

import (
	"errors"
	"strconv"
)

// Sentinels for what makes the connection unusable. A Conn that meets one
// queues a GOAWAY with the code given and returns a *ConnError wrapping
// the sentinel; test for them with errors.Is.
var (
	// ErrNoSettings: the server's first frame is not SETTINGS, so what
	// answered is not an HTTP/2 server (RFC 9113 §3.4). PROTOCOL_ERROR.
	ErrNoSettings = errors.New("http2: server preface is not a SETTINGS frame")
	// ErrFrameSize: a frame is longer than our SETTINGS_MAX_FRAME_SIZE, or
	// has a length its type does not allow (PING 8, WINDOW_UPDATE 4,
	// RST_STREAM 4, SETTINGS a multiple of 6, SETTINGS ACK 0).
	// FRAME_SIZE_ERROR; for PRIORITY it is a stream error, unless the
	// stream is idle (which may not be reset).
	ErrFrameSize = errors.New("http2: bad frame size")
	// ErrBadStreamID: a stream frame on stream 0, or a connection frame
	// (SETTINGS, PING, GOAWAY) on a stream. PROTOCOL_ERROR.
	ErrBadStreamID = errors.New("http2: frame on the wrong stream")
	// ErrIdleStream: a frame on a stream we never opened: an even
	// (server-initiated) id, or one above the highest we used.
	// PROTOCOL_ERROR.
	ErrIdleStream = errors.New("http2: frame on an idle stream")
	// ErrPadding: the pad length of a padded frame covers the whole
	// payload or more. PROTOCOL_ERROR.
	ErrPadding = errors.New("http2: padding longer than the frame")
	// ErrContinuation: a HEADERS block without END_HEADERS is followed by
	// anything but a CONTINUATION on the same stream, or a CONTINUATION
	// arrives outside a block. PROTOCOL_ERROR.
	ErrContinuation = errors.New("http2: broken HEADERS/CONTINUATION sequence")
	// ErrPushPromise: the server pushed although we sent ENABLE_PUSH 0.
	// PROTOCOL_ERROR.
	ErrPushPromise = errors.New("http2: PUSH_PROMISE received with push disabled")
	// ErrBadSetting: a SETTINGS value out of range: ENABLE_PUSH other than
	// 0 or 1, MAX_FRAME_SIZE outside 2^14..2^24-1 (PROTOCOL_ERROR), or
	// INITIAL_WINDOW_SIZE above 2^31-1 (FLOW_CONTROL_ERROR).
	ErrBadSetting = errors.New("http2: invalid SETTINGS value")
	// ErrWindowOverflow: a WINDOW_UPDATE or a SETTINGS change takes a send
	// window past 2^31-1. FLOW_CONTROL_ERROR, for the connection or the
	// stream the window belongs to.
	ErrWindowOverflow = errors.New("http2: flow-control window above 2^31-1")
	// ErrZeroWindowUpdate: a WINDOW_UPDATE with an increment of 0.
	// PROTOCOL_ERROR, for the connection or the stream it names.
	ErrZeroWindowUpdate = errors.New("http2: WINDOW_UPDATE of 0")
	// ErrFlowControl: the server sent more DATA than our window allowed.
	// FLOW_CONTROL_ERROR, for the connection or the stream.
	ErrFlowControl = errors.New("http2: DATA beyond the flow-control window")
	// ErrCompression: a header block HPACK cannot decode. The decoding
	// state is lost with it, so it is always a connection error.
	// COMPRESSION_ERROR.
	ErrCompression = errors.New("http2: header block cannot be decoded")
	// ErrHeaderBlockTooLarge: a header block (HEADERS and its
	// CONTINUATIONs) is larger than Config.MaxHeaderBlockBytes before
	// decoding. Not decoding it loses the HPACK state, so the connection
	// ends. ENHANCE_YOUR_CALM.
	ErrHeaderBlockTooLarge = errors.New("http2: header block too large")
	// ErrFlood: the server sent more cheap frames (PING, SETTINGS,
	// WINDOW_UPDATE, RST_STREAM, PRIORITY, empty DATA or CONTINUATION,
	// unknown types) than Config.MaxControlFrames allows; see Config.
	// ENHANCE_YOUR_CALM.
	ErrFlood = errors.New("http2: flood of control frames")
	// ErrControlBacklog: the acknowledgements and resets owed to the
	// server went unflushed past Config.MaxQueuedControlFrames.
	// ENHANCE_YOUR_CALM.
	ErrControlBacklog = errors.New("http2: too many control frames queued")
	// ErrStreamClosed: a frame other than PRIORITY, WINDOW_UPDATE or
	// RST_STREAM on a stream that is closed. STREAM_CLOSED, as a stream
	// error; DATA or HEADERS on a stream the server itself ended with
	// END_STREAM are a connection error.
	ErrStreamClosed = errors.New("http2: frame on a closed stream")
)

// Sentinels for a response that breaks the rules of RFC 9113 §8. Each is a
// stream error: the Conn resets the stream with PROTOCOL_ERROR and reports
// a *StreamError wrapping the sentinel to the stream's handler.
var (
	// ErrMissingStatus: a response head without :status.
	ErrMissingStatus = errors.New("http2: response without :status")
	// ErrDuplicateStatus: :status appears twice in a head.
	ErrDuplicateStatus = errors.New("http2: duplicate :status")
	// ErrBadStatus: :status is not three digits from 100 to 599.
	ErrBadStatus = errors.New("http2: invalid :status")
	// ErrSwitchingProtocols: a 101 response, which HTTP/2 forbids
	// (RFC 9113 §8.6).
	ErrSwitchingProtocols = errors.New("http2: 101 Switching Protocols in HTTP/2")
	// ErrUnknownPseudo: a pseudo-header other than :status, or one in a
	// trailer.
	ErrUnknownPseudo = errors.New("http2: invalid pseudo-header")
	// ErrPseudoAfterRegular: a pseudo-header after a regular field.
	ErrPseudoAfterRegular = errors.New("http2: pseudo-header after regular field")
	// ErrUppercaseName: a field name with an uppercase letter.
	ErrUppercaseName = errors.New("http2: uppercase header field name")
	// ErrBadFieldName: a field name that is empty or not a token.
	ErrBadFieldName = errors.New("http2: invalid header field name")
	// ErrBadFieldValue: a field value with a control byte (NUL, CR, LF...).
	ErrBadFieldValue = errors.New("http2: invalid header field value")
	// ErrConnectionSpecific: a connection-specific field (Connection,
	// Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE), which
	// HTTP/2 forbids (RFC 9113 §8.2.2).
	ErrConnectionSpecific = errors.New("http2: connection-specific header field")
	// ErrBadContentLength: content-length is not a decimal int64, or two
	// values differ.
	ErrBadContentLength = errors.New("http2: invalid content-length")
	// ErrContentLengthMismatch: the DATA received disagree with
	// content-length, or a response that cannot have content has some.
	ErrContentLengthMismatch = errors.New("http2: body length differs from content-length")
	// ErrInterimEndStream: a 1xx head ends the stream.
	ErrInterimEndStream = errors.New("http2: interim response with END_STREAM")
	// ErrTrailersNoEndStream: a header block after the final head that
	// does not end the stream.
	ErrTrailersNoEndStream = errors.New("http2: trailers without END_STREAM")
	// ErrDataBeforeHead: DATA before the final response head.
	ErrDataBeforeHead = errors.New("http2: DATA before response head")
	// ErrHeaderListTooLarge: the decoded header list is larger than
	// Config.MaxHeaderListSize (counted as RFC 9113 §6.5.2 does: name,
	// value and 32 bytes per field). For a request, it is larger than the
	// server's SETTINGS_MAX_HEADER_LIST_SIZE.
	ErrHeaderListTooLarge = errors.New("http2: header list too large")
)

// Sentinels for how a stream ended other than by a response or a protocol
// violation.
var (
	// ErrRefused: the server did not process the request, so it is safe
	// to retry, on another connection: it refused the stream
	// (RST_STREAM REFUSED_STREAM), or a GOAWAY's last stream id is below
	// it. Both *StreamError and *GoAwayError match it with errors.Is when
	// that is the case.
	ErrRefused = errors.New("http2: request not processed by the server; safe to retry")
	// ErrStreamReset: the server reset the stream (RST_STREAM) with a
	// code other than REFUSED_STREAM.
	ErrStreamReset = errors.New("http2: stream reset by the server")
	// ErrLocalReset: the stream was reset through Conn.Reset.
	ErrLocalReset = errors.New("http2: stream reset by the client")
)

// Sentinels returned by Conn methods that cannot proceed. Nothing was sent
// when OpenStream returns one, so the request may go on another
// connection.
var (
	// ErrStreamLimit: the server's SETTINGS_MAX_CONCURRENT_STREAMS streams
	// are open (100 assumed until its SETTINGS arrive). Wait for one to
	// close, or use another connection.
	ErrStreamLimit = errors.New("http2: too many concurrent streams")
	// ErrGoingAway: a GOAWAY was sent or received, or the stream ids are
	// used up, so no new stream may open on this connection.
	ErrGoingAway = errors.New("http2: connection going away")
	// ErrConnClosed: the connection failed or was closed.
	ErrConnClosed = errors.New("http2: connection closed")
	// ErrStreamDone: the stream is closed, or its request already ended,
	// so nothing more can be written to it.
	ErrStreamDone = errors.New("http2: stream closed for writing")
)

// maxSeen bounds the excerpt an error quotes, so that an error never holds
// on to a large buffer nor floods a log.
const maxSeen = 64

// clip cuts s to at most maxSeen bytes, for quoting in an error.
func clip[T ~string | ~[]byte](s T) T {
	return s[:min(len(s), maxSeen)]
}

// ConnError reports a connection error: the server broke a rule that
// leaves the connection unusable. The Conn queued a GOAWAY with Code, and
// every open stream was closed with this error.
type ConnError struct {
	// Code is the error code sent in our GOAWAY.
	Code ErrCode
	// Err is the rule that was broken: one of the connection sentinels.
	Err error
	// Seen says what was received, such as the frame header, at most 64
	// bytes of it.
	Seen string
}

// Error names the code, the rule and what was seen.
func (e *ConnError) Error() string {
	s := "http2: connection error " + e.Code.String() + ": " + e.Err.Error()
	if e.Seen != "" {
		s += " (" + e.Seen + ")"
	}
	return s
}

// Unwrap returns the sentinel.
func (e *ConnError) Unwrap() error { return e.Err }

func connErr(code ErrCode, sentinel error, seen string) *ConnError {
	return &ConnError{Code: code, Err: sentinel, Seen: clip(seen)}
}

// StreamError reports a stream that ended without a complete response:
// the server reset it (Remote), or it broke a rule of the protocol and we
// reset it, or the client reset it through Conn.Reset.
type StreamError struct {
	StreamID uint32
	// Code is the error code of the RST_STREAM, whoever sent it.
	Code ErrCode
	// Remote is true when the server sent the RST_STREAM.
	Remote bool
	// Err is the reason: ErrRefused or ErrStreamReset when Remote, a rule
	// sentinel (ErrMissingStatus, ErrFlowControl...) when we reset the
	// stream because of what the server sent, ErrLocalReset for
	// Conn.Reset.
	Err error
	// Seen quotes what was received, when Err is a rule: the offending
	// field or frame, at most 64 bytes.
	Seen string
}

// Error names the stream, the code, the reason and what was seen.
func (e *StreamError) Error() string {
	s := "http2: stream " + strconv.FormatUint(uint64(e.StreamID), 10) + " " + e.Code.String() + ": " + e.Err.Error()
	if e.Seen != "" {
		s += ": " + strconv.Quote(e.Seen)
	}
	return s
}

// Unwrap returns the reason, so that errors.Is(err, ErrRefused) or
// errors.Is(err, ErrBadStatus) work.
func (e *StreamError) Unwrap() error { return e.Err }

func streamErr(id uint32, code ErrCode, sentinel error, seen string) *StreamError {
	return &StreamError{StreamID: id, Code: code, Err: sentinel, Seen: clip(seen)}
}

// GoAwayError reports a GOAWAY from the server. Streams above LastStreamID
// were not processed and may be retried on another connection; streams at
// or below it may still complete.
type GoAwayError struct {
	LastStreamID uint32
	Code         ErrCode
	// Debug is the GOAWAY's opaque debug data, at most 256 bytes of it.
	Debug string
	// StreamID is the stream this error was reported for, when it closed
	// one (0 when it is about the connection).
	StreamID uint32
}

// maxDebug bounds the debug data kept from a GOAWAY.
const maxDebug = 256

// Error says what the server announced.
func (e *GoAwayError) Error() string {
	s := "http2: server sent GOAWAY " + e.Code.String() + " (last stream " +
		strconv.FormatUint(uint64(e.LastStreamID), 10) + ")"
	if e.StreamID != 0 {
		s += "; stream " + strconv.FormatUint(uint64(e.StreamID), 10)
		if e.Unprocessed(e.StreamID) {
			s += " was not processed"
		} else {
			s += " did not complete"
		}
	}
	if e.Debug != "" {
		s += ": " + strconv.Quote(e.Debug)
	}
	return s
}

// Unprocessed reports whether the server promised, by this GOAWAY, not to
// have processed stream id: the request may be retried.
func (e *GoAwayError) Unprocessed(id uint32) bool { return id > e.LastStreamID }

// Is makes errors.Is(err, ErrRefused) true when the error closed a stream
// the server did not process.
func (e *GoAwayError) Is(target error) bool {
	return target == ErrRefused && e.StreamID != 0 && e.Unprocessed(e.StreamID)
}

// RequestError reports why OpenStream or WriteTrailers refused the fields
// given. Nothing was sent.
type RequestError struct {
	// Err is ErrBadFieldName, ErrBadFieldValue, ErrUnknownPseudo (a
	// missing or misplaced pseudo-header field) or ErrHeaderListTooLarge.
	Err error
	// Name is the field concerned, when there is one.
	Name string
	// Value is the offending value, cut to at most 64 bytes.
	Value string
}

// Error returns the sentinel's message, the field and the quoted value.
func (e *RequestError) Error() string {
	s := e.Err.Error()
	if e.Name != "" {
		s += " in " + strconv.Quote(e.Name)
	}
	return s + ": " + strconv.Quote(e.Value)
}

// Unwrap returns the sentinel.
func (e *RequestError) Unwrap() error { return e.Err }

func requestErr(sentinel error, name, value string) error {
	return &RequestError{Err: sentinel, Name: clip(name), Value: clip(value)}
}
