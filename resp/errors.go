package resp

import (
	"errors"
	"strconv"
	"strings"
)

// Error is an error reply from the server: a simple error ("-") or a blob
// error ("!"). Commands return it as their error, so callers can match it
// with errors.As and branch on Prefix.
type Error struct {
	// Msg is the reply's text as sent, such as
	// "WRONGTYPE Operation against a key holding the wrong kind of value".
	Msg string
}

// Error returns the server's message unchanged.
func (e *Error) Error() string { return e.Msg }

// Prefix returns the error code, by convention the first word of the
// message: "ERR", "WRONGTYPE", "MOVED", "NOSCRIPT" and so on. It is the whole
// message when that has no space.
func (e *Error) Prefix() string {
	if i := strings.IndexByte(e.Msg, ' '); i >= 0 {
		return e.Msg[:i]
	}
	return e.Msg
}

// ErrProtocol is matched by errors.Is for every *ProtocolError.
var ErrProtocol = errors.New("resp: protocol error")

// ErrLimit is matched by errors.Is for every *LimitError.
var ErrLimit = errors.New("resp: limit exceeded")

// ProtocolError reports input that is not valid RESP. After one, the
// stream cannot be trusted to be in sync, and the connection should be
// closed.
type ProtocolError struct {
	// Problem says what is wrong, such as "invalid bulk length".
	Problem string
	// Seen is a quoted excerpt of the offending input.
	Seen string
}

// Error describes the problem and quotes the input.
func (e *ProtocolError) Error() string {
	return "resp: protocol error: " + e.Problem + " in " + e.Seen
}

// Is reports whether target is ErrProtocol.
func (e *ProtocolError) Is(target error) bool { return target == ErrProtocol }

// LimitError reports a value that is well formed but exceeds one of the
// Decoder's Limits.
type LimitError struct {
	// Limit names the limit: "bulk length", "aggregate length", "nesting
	// depth", "line length" (the limits on one element), "reply length"
	// or "reply values" (the limits on one reply as a whole: MaxReplyLen,
	// MaxReplyValues).
	Limit string
	// Got is the size that was announced or reached; for "reply length",
	// the length the reply reached or, from a header, the least it would
	// reach. Max is the limit.
	Got, Max int64
}

// Error names the limit, the size seen and the maximum.
func (e *LimitError) Error() string {
	return "resp: " + e.Limit + " " + strconv.FormatInt(e.Got, 10) +
		" exceeds the limit of " + strconv.FormatInt(e.Max, 10)
}

// Is reports whether target is ErrLimit.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// maxSeen bounds the excerpt of input quoted in a ProtocolError.
const maxSeen = 32

// protocolError describes a problem found in b, quoting at most maxSeen
// bytes of it. It is only called on failure, so its allocations do not
// matter.
func protocolError(problem string, b []byte) error {
	seen := strconv.Quote(string(b[:min(len(b), maxSeen)]))
	if len(b) > maxSeen {
		seen += "..."
	}
	return &ProtocolError{Problem: problem, Seen: seen}
}
