package resp

import (
	"bytes"
	"errors"
	"math"
	"strconv"
)

// errIncomplete is returned internally when the input ends inside the
// element being read; it never reaches a caller.
var errIncomplete = errors.New("resp: incomplete")

// needLine, as the need reported with errIncomplete, means that the input
// ended inside a line, so any further byte might complete it.
const needLine = 0

// token reads the element that starts at b[pos]: a scalar in full, or just
// the header line of an aggregate. It sets *v to the element (for an
// aggregate, only Type and Null) and returns the position after it and,
// for an aggregate, the number of values that follow as its children.
//
// When b ends too early, token returns errIncomplete and, in place of the
// position, how long b must grow before another try can succeed: an exact
// length inside a bulk string, or needLine. A verdict is reached only on
// complete lines and complete bulk strings (and on the type byte), never by
// peeking at a partial one, so that every way of cutting the stream gives
// the same result, at the same point, as reading it whole.
func (l *Limits) token(b []byte, pos int, v *Value) (next, n int, err error) {
	if pos >= len(b) {
		return needLine, 0, errIncomplete
	}
	t := Type(b[pos])
	*v = Value{Type: t}
	if typeNames[t] == "" {
		return 0, 0, protocolError("unknown type byte", b[pos:])
	}
	line, next, err := readLine(b, pos, l.lineMax(b[pos]))
	if err != nil {
		return next, 0, err
	}
	// b starts with the reply (parse and scan both see it so), so next
	// is the reply's length up to here.
	if int64(next) > l.MaxReplyLen {
		return 0, 0, l.replyLenError(int64(next))
	}
	switch t {
	case SimpleString, SimpleError:
		v.Str = line
	case Integer:
		i, ok := parseInt(line)
		if !ok {
			return 0, 0, protocolError("invalid integer", b[pos:])
		}
		v.Int = i
	case Null:
		if len(line) != 0 {
			return 0, 0, protocolError("invalid null", b[pos:])
		}
	case Boolean:
		switch string(line) {
		case "t":
			v.Bool = true
		case "f":
		default:
			return 0, 0, protocolError("invalid boolean", b[pos:])
		}
	case Double:
		f, ok := parseDouble(line)
		if !ok {
			return 0, 0, protocolError("invalid double", b[pos:])
		}
		v.Float = f
	case BigNumber:
		if !isDecimal(line) {
			return 0, 0, protocolError("invalid big number", b[pos:])
		}
		v.Str = line
	case BulkString, BlobError, VerbatimString:
		return l.blob(b, pos, next, line, v)
	default: // aggregates
		return l.aggregate(b, pos, next, line, v)
	}
	return next, 0, nil
}

// blob finishes reading a length-prefixed string whose header line has
// been read; body starts at b[start].
func (l *Limits) blob(b []byte, pos, start int, line []byte, v *Value) (next, n int, err error) {
	size, ok := parseInt(line)
	if !ok || size < -1 || size == -1 && v.Type != BulkString {
		return 0, 0, protocolError("invalid "+v.Type.String()+" length", b[pos:])
	}
	if size == -1 {
		v.Null = true
		return start, 0, nil
	}
	if size > l.MaxBulkLen {
		return 0, 0, &LimitError{Limit: "bulk length", Got: size, Max: l.MaxBulkLen}
	}
	// Known from the header: no byte of a body that cannot fit is
	// awaited, let alone held. (start <= MaxReplyLen: no overflow.)
	if size > l.MaxReplyLen-int64(start)-2 {
		return 0, 0, l.replyLenError(saturatingAdd(int64(start)+2, size))
	}
	end := start + int(size) // no overflow: end < MaxReplyLen
	if len(b) < end+2 {
		return end + 2, 0, errIncomplete
	}
	if b[end] != '\r' || b[end+1] != '\n' {
		return 0, 0, protocolError(v.Type.String()+" not followed by CRLF", b[end:])
	}
	body := b[start:end:end]
	if v.Type == VerbatimString {
		if len(body) < 4 || body[3] != ':' {
			return 0, 0, protocolError("verbatim string without a format", b[pos:])
		}
		copy(v.Format[:], body)
		body = body[4:]
	}
	v.Str = body
	return end + 2, 0, nil
}

// aggregate checks the header of an aggregate and returns how many values
// follow it.
func (l *Limits) aggregate(b []byte, pos, next int, line []byte, v *Value) (int, int, error) {
	count, ok := parseInt(line)
	if !ok || count < -1 || count == -1 && v.Type != Array {
		return 0, 0, protocolError("invalid "+v.Type.String()+" length", b[pos:])
	}
	if count == -1 {
		v.Null = true
		return next, 0, nil
	}
	if v.Type == Map || v.Type == Attribute {
		// Pairs: the limit counts keys and values alike.
		if count > l.MaxAggregateLen/2 {
			return 0, 0, &LimitError{Limit: "aggregate length", Got: saturatingDouble(count), Max: l.MaxAggregateLen}
		}
		count *= 2
	}
	if count > l.MaxAggregateLen {
		return 0, 0, &LimitError{Limit: "aggregate length", Got: count, Max: l.MaxAggregateLen}
	}
	// Every element takes three bytes at least ("_\r\n"): a count that
	// cannot fit is refused before its elements arrive.
	if count > (l.MaxReplyLen-int64(next))/minValueLen {
		return 0, 0, l.replyLenError(saturatingAdd(int64(next), saturatingMul(count, minValueLen)))
	}
	return next, int(count), nil
}

// minValueLen is the length of the shortest RESP value, such as "_\r\n".
const minValueLen = 3

// replyLenError reports a reply that reaches, or is known to need at
// least, got bytes.
func (l *Limits) replyLenError(got int64) error {
	return &LimitError{Limit: "reply length", Got: got, Max: l.MaxReplyLen}
}

// saturatingDouble returns 2n, or math.MaxInt64 if that overflows.
func saturatingDouble(n int64) int64 { return saturatingMul(n, 2) }

// saturatingMul returns n*k for n >= 0 and k > 0, or math.MaxInt64 if that
// overflows.
func saturatingMul(n, k int64) int64 {
	if n > math.MaxInt64/k {
		return math.MaxInt64
	}
	return n * k
}

// saturatingAdd returns a+b for a, b >= 0, or math.MaxInt64 if that
// overflows.
func saturatingAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// readLine returns the text of the line whose type byte is b[pos], without
// the type byte and the CRLF, and the position after the CRLF. The line may
// hold at most max bytes of text. A line must end in CRLF and contain no
// other CR or LF; a lone LF is reported as soon as it is seen, as it is the
// usual sign of a peer that does not speak RESP.
func readLine(b []byte, pos, max int) (line []byte, next int, err error) {
	start := pos + 1
	window := b[start:min(len(b), start+max+2)]
	i := bytes.IndexByte(window, '\n')
	if i < 0 {
		if len(window) == max+2 {
			return nil, 0, &LimitError{Limit: "line length", Got: int64(max) + 1, Max: int64(max)}
		}
		return nil, needLine, errIncomplete
	}
	if i == 0 || window[i-1] != '\r' {
		return nil, 0, protocolError("line not ended by CRLF", b[pos:])
	}
	line = window[: i-1 : i-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, 0, protocolError("CR inside a line", b[pos:])
	}
	return line, start + i + 1, nil
}

// parseInt parses a decimal int64 with an optional leading '-'. It is
// stricter than strconv: no '+', no underscores, no empty digits.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0') // 19 digits cannot overflow uint64
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true // wraps correctly for 1<<63
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// isDecimal reports whether b is an optional '-' followed by one or more
// digits, the syntax of a big number.
func isDecimal(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseDouble parses the text of a RESP3 double: a decimal number with an
// optional fraction and exponent, or inf, -inf or nan. Forms strconv would
// also take, such as hexadecimal or "Infinity", are refused.
func parseDouble(b []byte) (float64, bool) {
	switch string(b) {
	case "inf", "+inf":
		return math.Inf(1), true
	case "-inf":
		return math.Inf(-1), true
	case "nan", "-nan":
		return math.NaN(), true
	}
	if len(b) == 0 || len(b) > 64 {
		return 0, false
	}
	digits := false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			return 0, false
		}
	}
	if !digits {
		return 0, false
	}
	// Copy to a stack array so that converting to a string for strconv
	// does not allocate.
	var buf [64]byte
	n := copy(buf[:], b)
	f, err := strconv.ParseFloat(string(buf[:n]), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	// Out of range: strconv gives ±Inf or ±0, which is what the server
	// meant as closely as float64 can say it.
	return f, true
}
