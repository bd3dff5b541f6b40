package http1

import (
	"math"
	"net/http"
	"strconv"
)

// AppendChunk appends p to dst as one chunk of a chunked body: its size
// in hexadecimal, CRLF, the data, CRLF. An empty p appends nothing, since
// a chunk of size zero would end the body.
func AppendChunk(dst, p []byte) []byte {
	if len(p) == 0 {
		return dst
	}
	dst = AppendChunkHeader(dst, len(p))
	dst = append(dst, p...)
	return append(dst, "\r\n"...)
}

// AppendChunkHeader appends only the chunk-size line for a chunk of n
// bytes, for a writer that sends the data from its own buffer (with
// writev, say) instead of copying it: the n data bytes and a CRLF must
// follow on the wire. It appends nothing when n <= 0.
func AppendChunkHeader(dst []byte, n int) []byte {
	if n <= 0 {
		return dst
	}
	dst = strconv.AppendUint(dst, uint64(n), 16)
	return append(dst, "\r\n"...)
}

// AppendLastChunk appends the end of a chunked body: the zero-size chunk,
// the trailer fields (keys sorted, may be nil) and the final blank line.
//
// Trailer names must be tokens and values free of control bytes, as in a
// head. Content-Length, Transfer-Encoding, Host and Trailer are refused
// with ErrForbiddenTrailer: a recipient that merged them into the head
// would change the message's framing or routing after the fact
// (RFC 9110 §6.5.1). On error dst is returned unchanged.
func AppendLastChunk(dst []byte, trailer http.Header) ([]byte, error) {
	start := len(dst)
	dst = append(dst, "0\r\n"...)
	if len(trailer) > 0 {
		for k := range trailer {
			if forbiddenTrailer(k) {
				return dst[:start], requestErr(ErrForbiddenTrailer, "", k)
			}
		}
		var err error
		if dst, _, err = appendHeader(dst, trailer, false); err != nil {
			return dst[:start], err
		}
	}
	return append(dst, "\r\n"...), nil
}

// chunkLineState is where a chunkLine scanner stands inside
//
//	chunk-size [ chunk-ext ] CRLF
//	chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
//	ext-val   = token / quoted-string
type chunkLineState uint8

const (
	clSize          chunkLineState = iota // hex digits
	clSizeWS                              // whitespace after the size
	clExtStart                            // after ";", before the name
	clExtName                             // in a name
	clExtNameWS                           // whitespace after a name
	clExtValStart                         // after "=", before the value
	clExtToken                            // in a token value
	clExtQuoted                           // in a quoted-string value
	clExtQuotedPair                       // after a backslash in a quoted-string
	clExtValWS                            // whitespace after a value
	clLF                                  // CR seen; LF must follow
)

// chunkLine scans a chunk-size line a byte at a time, so that it can be
// split anywhere without buffering. Extensions are checked against the
// grammar and then dropped: no extension is defined that a client must
// understand, but a malformed one means the framing is not what it seems.
//
// Whitespace is tolerated after the size and around ";" and "=" (BWS),
// and also before the CRLF, which the grammar does not allow but some
// servers send when padding sizes; it cannot change where the line ends.
type chunkLine struct {
	state  chunkLineState
	digits uint8
	size   int64
	n      int      // bytes of the line consumed so far
	seen   [16]byte // its first bytes, quoted in errors
}

func (c *chunkLine) reset() {
	c.state, c.digits, c.size, c.n = clSize, 0, 0, 0
}

func (c *chunkLine) fail(sentinel error) error {
	return protoErr(sentinel, c.seen[:min(c.n, len(c.seen))])
}

// feed consumes bytes of b until the line ends. It returns how many bytes
// it consumed and whether the line is complete; c.size is then the chunk
// size.
func (c *chunkLine) feed(b []byte) (int, bool, error) {
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if c.n < len(c.seen) {
			c.seen[c.n] = ch
		}
		c.n++
		if c.n > maxChunkLine {
			return i, false, &LimitError{Err: ErrChunkLineTooLong, Limit: maxChunkLine}
		}
		if ch == '\n' {
			if c.state != clLF {
				return i, false, c.fail(ErrBareLF)
			}
			return i + 1, true, nil
		}
		var ok bool
		switch c.state {
		case clSize:
			if h := unhex(ch); h >= 0 {
				// More than 16 digits is refused even when they are
				// leading zeros, like net/http: no real sender needs them.
				if c.digits == 16 || c.size > math.MaxInt64>>4 {
					return i, false, c.fail(ErrBadChunkSize)
				}
				c.size = c.size<<4 | int64(h)
				c.digits++
				continue
			}
			if c.digits == 0 {
				return i, false, c.fail(ErrBadChunkSize)
			}
			ok = c.afterSize(ch)
			if !ok {
				return i, false, c.fail(ErrBadChunkSize)
			}
			continue
		case clSizeWS:
			if !c.afterSize(ch) {
				return i, false, c.fail(ErrBadChunkSize)
			}
			continue
		case clExtStart:
			ok = isOWS(ch) || c.next(isTokenByte(ch), clExtName)
		case clExtName:
			ok = isTokenByte(ch) || c.next(isOWS(ch), clExtNameWS) || c.afterName(ch)
		case clExtNameWS:
			ok = isOWS(ch) || c.afterName(ch)
		case clExtValStart:
			ok = isOWS(ch) || c.next(ch == '"', clExtQuoted) || c.next(isTokenByte(ch), clExtToken)
		case clExtToken:
			ok = isTokenByte(ch) || c.next(isOWS(ch), clExtValWS) || c.afterValue(ch)
		case clExtQuoted:
			ok = c.next(ch == '"', clExtValWS) || c.next(ch == '\\', clExtQuotedPair) ||
				byteClass[ch]&classQText != 0
		case clExtQuotedPair:
			ok = c.next(byteClass[ch]&classValue != 0, clExtQuoted)
		case clExtValWS:
			ok = isOWS(ch) || c.afterValue(ch)
		case clLF:
			// A CR not followed by LF.
			return i, false, c.fail(ErrBadChunkSize)
		}
		if !ok {
			return i, false, c.fail(ErrBadChunkExtension)
		}
	}
	return len(b), false, nil
}

// next moves to state s if cond holds, and reports cond.
func (c *chunkLine) next(cond bool, s chunkLineState) bool {
	if cond {
		c.state = s
	}
	return cond
}

// afterSize handles a byte that ends or follows the hex digits.
func (c *chunkLine) afterSize(ch byte) bool {
	return c.next(isOWS(ch), clSizeWS) || c.next(ch == ';', clExtStart) || c.next(ch == '\r', clLF)
}

// afterName handles a byte after an extension name and its whitespace.
func (c *chunkLine) afterName(ch byte) bool {
	return c.next(ch == '=', clExtValStart) || c.next(ch == ';', clExtStart) || c.next(ch == '\r', clLF)
}

// afterValue handles a byte after an extension value and its whitespace.
func (c *chunkLine) afterValue(ch byte) bool {
	return c.next(ch == ';', clExtStart) || c.next(ch == '\r', clLF)
}
