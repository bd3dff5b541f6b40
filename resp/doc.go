// Package resp is a codec for RESP2 and RESP3, the protocol of Redis and
// its relatives. It is pure: bytes in, values out, bytes to send. It opens
// no sockets and starts no goroutines, so the Redis driver can run it on an
// engine event loop and tests can run it on plain byte slices.
//
// # Decoding
//
// A Decoder is fed whatever a connection's data callback received and calls
// back once per complete top-level value, which is a reply or, in RESP3, a
// push message:
//
//	func (c *conn) onData(data []byte) error {
//		return c.dec.Feed(data, c.onValue) // c.onValue stored once: no allocation
//	}
//
//	func (c *conn) onValue(v *resp.Value) error {
//		if v.Type == resp.Push {
//			return c.onPush(v)
//		}
//		return c.completeNextCommand(v) // converts v before returning
//	}
//
// The stream may be cut at any byte. The *Value given to the callback, and
// everything reachable from it, is only valid during the call: the driver
// converts it to its own result (a string, an int64, an *Error) there, or
// keeps a copy made with Value.Clone.
//
// This shape is chosen for the driver's hot path. A reply that lies whole
// inside the input (almost every reply on a busy connection) is decoded in
// one pass, its strings refer straight into the input, and the child
// values of arrays and maps come from pooled chunks that return to their
// pool after the callback, so decoding allocates nothing in steady state.
// Only a reply cut off at the end of the input is copied out, into a pooled
// buffer that goes back to the pool when the reply completes; an idle
// connection therefore holds no buffer. While a reply is incomplete, an
// incremental scanner follows its structure, so each further piece is
// examined once: a 100 MB bulk string arriving in 16 KB reads costs a few
// buffer doublings, not a re-parse per read.
//
// # Limits and errors
//
// Limits bounds bulk lengths, aggregate sizes, nesting depth and line
// lengths, and the bytes and values of one reply as a whole, so that what
// a decoder holds is bounded whatever a peer sends; exceeding one fails
// with a *LimitError as soon as the offending header is read, before
// anything is reserved for it. Malformed input fails
// with a *ProtocolError that names the problem and quotes what was seen.
// Both are terminal for the stream: the Decoder stays failed until Reset.
// Error replies from the server are not decoding errors; they are values of
// type SimpleError or BlobError, and Value.Err turns them into an *Error.
//
// # Types
//
// All RESP3 types are supported, including attributes, which the decoder
// attaches to the value that follows them (Value.Attrs). RESP3's streamed
// strings and aggregates (lengths of "?"), which Redis does not send, are
// rejected as protocol errors. Inline commands are a server-side concern
// and are not parsed.
//
// # Encoding
//
// AppendCommand and its relatives write commands as arrays of bulk strings
// into a caller's buffer; integers and floats are formatted without
// allocating. AppendValue encodes any Value, for tests and fake servers.
package resp
