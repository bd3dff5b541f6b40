// Package http2 is the client side of HTTP/2 (RFC 9113) as a pure
// protocol: bytes in, events out, bytes to send. It makes no system calls,
// starts no goroutines, sets no timers and opens no sockets, so an event
// loop can drive thousands of connections from one goroutine, and every
// rule below is tested without a network.
//
// It is cut along the protocol's concerns:
//
//   - frame.go and write.go: the frame header, types, flags, error codes
//     and settings, and append-style encoders for every frame a client
//     sends (AppendData, AppendHeaders with its CONTINUATIONs,
//     AppendSettings, AppendPing, AppendWindowUpdate, AppendRSTStream,
//     AppendGoAway, AppendPreface).
//   - split.go: a Splitter that cuts the server's bytes into whole frames
//     on a non-blocking feed.
//   - header.go: request heads encoded, and response heads decoded and
//     checked, with golang.org/x/net/http2/hpack.
//   - flow.go: flow-control windows both ways, and the bandwidth-delay
//     estimate that grows the receive windows.
//   - stream.go and conn.go: the stream states and the connection state
//     machine, Conn.
//   - limits.go and errors.go: Config with its defaults, and the typed
//     errors.
//
// # Driving a Conn
//
// The caller (an event loop) owns the socket and the Conn:
//
//  1. Init queues the client preface, our SETTINGS and a connection
//     WINDOW_UPDATE. Whatever a Conn queues is in Pending; after writing
//     (copying) it to the socket, the caller calls Flushed.
//  2. OpenStream encodes a request head into HEADERS and returns a
//     Stream, whose events go to the StreamHandler given: Head for each
//     1xx and the final head, Data for body bytes, Trailers, and Closed,
//     exactly once, with nil for a complete response or a typed error.
//     WriteData and WriteTrailers send a request body within the server's
//     flow-control windows; WindowOpen says when a blocked stream may
//     send again.
//  3. Feed takes whatever the socket delivered, split anywhere, and calls
//     the handlers as frames complete. As the application reads a body,
//     Consumed returns flow-control credit to the server. Reset cancels a
//     stream (RST_STREAM), Ping checks the connection's health, Shutdown
//     sends our GOAWAY, and Close ends the connection when the socket
//     does.
//
// Handlers run synchronously inside these calls and may call back into
// the Conn (consume, reset, open another stream), but not Feed.
//
// # Flow control and memory
//
// Receive credit goes back to the server only as the application consumes
// (or discards) body bytes, in WINDOW_UPDATEs batched by half windows. A
// reader that stops therefore stops its stream's server after one stream
// window, and the body bytes a stream holds unread never exceed that
// window: memory for a download is bounded whatever its size. The
// connection window grows with the streams open, so that stalled readers
// cannot use it up and stall the others. Windows start at
// Config.StreamWindow and Config.ConnWindow and grow, from a
// bandwidth-delay product measured with PINGs as grpc-go does, up to
// Config.MaxStreamWindow: large enough to fill a long fat link, no larger
// than it needs.
//
// An idle connection holds no read buffer and no output buffer. The
// Splitter copies only an incomplete frame, into a pooled buffer released
// when the frame completes; output goes to a pooled buffer released at
// Flushed. Streams come from a pool. Steady-state requests on a kept-alive
// connection allocate nothing, with one exception: HPACK decoding makes a
// string for each field the server sends as a literal rather than as an
// index into the dynamic table. Servers index what repeats (nginx and Go
// both do), so in steady state that is the fields that change from
// response to response (a Date, a varying content-length). A connection
// idle for a while can give back more with Compact: its HPACK encoder and
// dynamic table and the storage of its stream table, at the cost of
// sending the next request's fields literally once more.
//
// # Strictness
//
// A server that breaks the protocol gets a GOAWAY (a connection error,
// Feed returns a *ConnError and every stream closes with it) or a
// RST_STREAM (a stream error, only that stream closes with a
// *StreamError), as RFC 9113 says, each naming the rule with a sentinel
// and quoting what was seen. Malformed responses (a missing, repeated or
// invalid :status, 101, unknown or misplaced pseudo-headers, uppercase or
// invalid names, connection-specific fields, control bytes in values, a
// content-length that disagrees with the DATA) are stream errors; frames
// on idle streams, DATA or HEADERS on a stream after the server's
// END_STREAM, bad frame sizes, broken HEADERS/CONTINUATION sequences,
// PUSH_PROMISE (we send ENABLE_PUSH 0), invalid settings and window
// overflows are connection errors. Frames that crossed our RST_STREAM are
// dropped. Unknown frame types, PRIORITY (of the right size) and unknown
// settings are ignored.
//
// A hostile server costs bounded memory and CPU: a frame larger than our
// SETTINGS_MAX_FRAME_SIZE is refused from its header, a header block is
// bounded before decoding and its decoded list after, acknowledgements
// owed to the server are bounded while unflushed, and floods of cheap
// frames (PING, SETTINGS, WINDOW_UPDATE, RST_STREAM, PRIORITY, empty DATA,
// unknown types, 1xx heads) drain a budget whose exhaustion ends the
// connection with ENHANCE_YOUR_CALM. Config documents each threshold.
//
// # Retries
//
// A request the server did not process may be retried on another
// connection: errors.Is(err, ErrRefused) says so, for a stream refused
// with REFUSED_STREAM and for one above a GOAWAY's last stream id. Until
// the server's SETTINGS arrive a Conn lets 100 streams open; a server with
// a lower limit refuses the rest, retryably.
package http2
