// Package http1 is the HTTP/1.1 wire codec of the client: it encodes
// request heads and chunked bodies, and parses responses incrementally.
//
// It is a pure codec. It makes no system calls, starts no goroutines and
// never blocks: bytes go in, events and bytes to send come out. That lets
// an event loop drive thousands of connections from one goroutine, and
// lets every rule below be tested without a socket.
//
// # Encoding
//
// AppendRequestHead writes a request line and header section into a
// caller's buffer, append-style, allocating nothing when the buffer has
// room. AppendChunk, AppendChunkHeader and AppendLastChunk frame a body of
// unknown length. Everything written is validated first; a method, target,
// field name or value that could split or extend the request (a CR, an
// LF, a NUL, a space in the target) is refused with a *RequestError rather
// than escaped, because it is either a bug or an injection attempt.
//
// # Parsing
//
// A ResponseParser is fed whatever the socket delivered, split at any
// byte, and reports one Event per call: EventInformational for each 1xx
// interim response, EventHead for the final head, EventBody for each piece
// of body, EventTrailers, and EventDone. A client follows this sequence
// for each request:
//
//  1. Reset(method) before the response can arrive (when the request is
//     written).
//  2. On each read, call Feed in a loop until it returns EventNone,
//     passing the rest of the input each time (see Feed). Handle
//     EventInformational (100 Continue: send the body), EventHead (status,
//     fields, ContentLength, KeepAlive, Tunnel), EventBody (Body is a
//     sub-slice of the read buffer: consume or copy it before the next
//     read), EventTrailers.
//  3. When the connection ends, call EOF: it completes a close-delimited
//     body, or says what was cut short.
//  4. After EventDone (or EOF returning nil), the connection may go back
//     to the pool only if KeepAlive reports true and the client itself did
//     not ask to close.
//
// Body bytes are never copied. A head or trailer section is parsed where
// it lies in the input when it arrives whole; one split across reads is
// copied into a buffer from a shared pool and returned at the next call, so
// an idle connection's parser holds no memory beyond the struct itself. Field
// names and values are exposed as byte slices, valid until the next call,
// so that a client that only needs a few fields allocates nothing: parsing
// a keep-alive response with a Content-Length body costs no allocation.
// Header builds an http.Header for callers that need one.
//
// # Strictness
//
// A client shares connections, and proxies and caches sit between it and
// the origin, so a response that two parsers could frame differently is a
// security problem (response splitting, cache poisoning, desynchronised
// connections), not a compatibility nuisance. The parser therefore follows
// RFC 9112 strictly where framing depends on it and returns a
// *ProtocolError, naming the rule and quoting what was seen, for:
//
//   - a status line that is not "HTTP/1.x NNN reason";
//   - a line ending in LF without CR, in the head, the trailer or the
//     chunked framing (net/http accepts bare LF in heads; this parser does
//     not, since accepting it is what lets two parsers disagree);
//   - obsolete line folding, a field name that is not a token (including
//     whitespace before the colon) or a control byte in a field value;
//   - both Content-Length and Transfer-Encoding; Content-Length values that
//     differ; a Content-Length that is not a plain decimal int64; any
//     Transfer-Encoding other than a single "chunked", or one in an
//     HTTP/1.0 response;
//   - a malformed chunk size or extension, or chunk data not followed by
//     CRLF;
//   - any byte received after the response was complete, the sign of a
//     body longer than announced.
//
// Sizes are bounded by Limits: head bytes (across interim responses too),
// fields per head, trailer bytes and fields, and the length of a chunk-size
// line. No input makes the parser panic or hold more memory than they
// allow. A body cut short by the end of the connection is reported by EOF
// as a *TruncatedError giving the expected and received lengths.
package http1
