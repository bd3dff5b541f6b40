// Package http1 is an HTTP/1.1 wire codec for both ends of a connection.
// The client side encodes request heads and chunked bodies and parses
// responses incrementally (AppendRequestHead, ResponseParser); the server
// side parses requests incrementally and encodes response heads
// (RequestParser, AppendResponseHead). The two parsers share the body
// framing code (RFC 9112 §6 and §7) and the two encoders the code that
// writes and checks fields, so both directions follow the same rules.
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
// room; AppendResponseHead does the same for a status line, and
// AppendContinue writes a 100 (Continue) interim response. AppendChunk,
// AppendChunkHeader and AppendLastChunk frame a body of unknown length in
// either direction. The encoders alone write the framing fields
// (Content-Length or Transfer-Encoding, and Host in a request) from the
// head's ContentLength and Host; copies in the caller's fields are
// skipped. Everything written is validated first; a method, target,
// status, reason, field name or value that could split or extend the
// message (a CR, an LF, a NUL, a space in the target) is refused with a
// *RequestError rather than escaped, because it is either a bug or an
// injection attempt.
//
// # Parsing responses
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
// # Parsing requests
//
// A RequestParser reads the requests of one connection, one after the
// other, with the same Feed loop and the same events: EventHead (Method,
// Target, fields, ContentLength, KeepAlive, ExpectContinue), EventBody,
// EventTrailers and EventDone. The call after EventDone starts on the next
// request, so pipelined requests need nothing special. EOF returns nil
// between requests and ErrRequestTruncated inside one. A request that
// breaks a rule is refused with an error for which StatusForError gives
// the status to answer with (400, 431, 501 or 505) before closing the
// connection. Body bytes are never copied and a head is parsed in place
// as in a ResponseParser; the body framing, the trailer section and the
// pooled buffers are the same code on both sides.
//
// # Strictness
//
// A client shares connections, and proxies and caches sit between it and
// the origin, so a response that two parsers could frame differently is a
// security problem (response splitting, cache poisoning, desynchronised
// connections), not a compatibility nuisance; so is a request that a
// server and a proxy in front of it could split differently (request
// smuggling). Both parsers therefore follow RFC 9112 strictly where
// framing depends on it and return a *ProtocolError, naming the rule and
// quoting what was seen, for:
//
//   - a status line that is not "HTTP/1.x NNN reason"; a request line
//     that is not "method SP target SP HTTP/1.x" with single spaces, or
//     another major version;
//   - a request with more than one Host field or an invalid one, or an
//     HTTP/1.1 request with none;
//   - a line ending in LF without CR, in the head, the trailer or the
//     chunked framing (net/http accepts bare LF in heads; this parser does
//     not, since accepting it is what lets two parsers disagree);
//   - obsolete line folding, a field name that is not a token (including
//     whitespace before the colon) or a control byte in a field value;
//   - both Content-Length and Transfer-Encoding; Content-Length values that
//     differ; a Content-Length that is not a plain decimal int64; any
//     Transfer-Encoding other than a single "chunked", or one in an
//     HTTP/1.0 message;
//   - a malformed chunk size or extension, or chunk data not followed by
//     CRLF;
//   - any byte received after a response was complete, the sign of a
//     body longer than announced (for requests it is the next request).
//
// Sizes are bounded by Limits: head bytes (across interim responses, or
// empty lines before a request line, too), fields per head, trailer bytes
// and fields, and the length of a chunk-size line. No input makes a parser
// panic or hold more memory than they allow. A response body cut short by
// the end of the connection is reported by EOF as a *TruncatedError giving
// the expected and received lengths; a request cut short, as
// ErrRequestTruncated.
package http1
