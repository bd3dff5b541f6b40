package resp

// Defaults for the fields of Limits left at zero.
const (
	// DefaultMaxBulkLen matches the default of Redis's proto-max-bulk-len.
	DefaultMaxBulkLen = 512 << 20
	// DefaultMaxAggregateLen admits the largest replies seen in practice
	// (KEYS, SMEMBERS or LRANGE over millions of items).
	DefaultMaxAggregateLen = 1 << 24
	// DefaultMaxDepth is far deeper than any reply Redis produces.
	DefaultMaxDepth = 128
	// DefaultMaxLineLen matches the limit Redis puts on inline commands.
	DefaultMaxLineLen = 64 << 10
	// DefaultMaxReplyLen, 1 GiB, admits a reply that holds a bulk string
	// of the largest size Redis stores (DefaultMaxBulkLen, 512 MiB) and
	// as much again beside it, such as an MGET of two such values. It is
	// also what Redis accepts from a client before closing it
	// (client-query-buffer-limit), so a client that takes as much from its
	// server keeps the symmetry.
	DefaultMaxReplyLen = 1 << 30
	// DefaultMaxReplyValues, 32Mi, is twice DefaultMaxAggregateLen: a
	// reply may hold an aggregate of the largest size and as many values
	// again nested in it, such as an HGETALL of 8M fields (a map of 16M
	// keys and values) or a RESP3 ZRANGE WITHSCORES of 10M members (10M
	// pairs, 30M values). Decoded, that is at most 3 GiB of Values (96
	// bytes each), where nothing bounded the total before.
	DefaultMaxReplyValues = 1 << 25
)

// maxHeaderLine bounds the line of a header or of a fixed-size scalar
// (integer, boolean, null, lengths and counts), which holds at most a sign
// and 19 digits; the slack leaves room for a clear parse error instead of a
// limit error on slightly malformed numbers.
const maxHeaderLine = 32

// Limits bounds what a Decoder accepts from a peer, so that a broken or
// hostile server cannot make the client reserve unbounded memory or
// recurse without end. A field that is zero or negative takes its default.
// Exceeding a limit fails with a *LimitError as soon as the offending
// header has been read.
//
// MaxBulkLen, MaxAggregateLen, MaxDepth and MaxLineLen bound each element;
// MaxReplyLen and MaxReplyValues bound one reply as a whole, which the
// per-element limits alone do not: an array of MaxAggregateLen bulk
// strings of MaxBulkLen each would be 8 PiB, and every element nested in
// a reply costs a Value once it is decoded. Together they bound what one
// connection's Decoder holds: at most MaxReplyLen bytes (plus one line)
// for a reply that arrives in pieces, and MaxReplyValues values for the
// reply being delivered.
type Limits struct {
	// MaxBulkLen bounds the length of a bulk string, blob error or
	// verbatim string. Default DefaultMaxBulkLen.
	MaxBulkLen int64
	// MaxAggregateLen bounds the number of elements in one array, set or
	// push, and twice the number of pairs in one map or attribute.
	// Default DefaultMaxAggregateLen.
	MaxAggregateLen int64
	// MaxDepth bounds how deeply aggregates (and attributes) nest: 1
	// allows an array of scalars but no array inside it. Default
	// DefaultMaxDepth.
	MaxDepth int
	// MaxLineLen bounds the text of a simple string, simple error, double
	// or big number. Default DefaultMaxLineLen.
	MaxLineLen int
	// MaxReplyLen bounds the bytes of one reply or push, from its first
	// byte to its last, attributes and nested elements included. It is
	// checked at every element, on what is already known there: a bulk
	// string whose announced length, or an aggregate whose announced
	// elements (three bytes each at least), would take the reply past it
	// fails at its header, before its body arrives; a line fails when it
	// ends past it. Default the larger of DefaultMaxReplyLen and twice
	// MaxBulkLen, so that raising MaxBulkLen alone still admits a reply
	// of one bulk string of the new size.
	MaxReplyLen int64
	// MaxReplyValues bounds the values one reply builds: the elements of
	// all its aggregates together, keys and values of maps and attributes
	// included (the reply itself is not counted). Each costs a Value when
	// the reply is decoded, however few bytes it took on the wire ("_\r\n"
	// is three), so this, not MaxReplyLen, bounds the decoded form. It is
	// checked at each aggregate's header, before anything is reserved for
	// its elements. Default the larger of DefaultMaxReplyValues and twice
	// MaxAggregateLen.
	MaxReplyValues int64
}

// withDefaults returns l with every unset field given its default.
func (l Limits) withDefaults() Limits {
	if l.MaxBulkLen <= 0 {
		l.MaxBulkLen = DefaultMaxBulkLen
	}
	if l.MaxAggregateLen <= 0 {
		l.MaxAggregateLen = DefaultMaxAggregateLen
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxLineLen <= 0 {
		l.MaxLineLen = DefaultMaxLineLen
	}
	if l.MaxReplyLen <= 0 {
		l.MaxReplyLen = max(DefaultMaxReplyLen, saturatingDouble(l.MaxBulkLen))
	}
	if l.MaxReplyValues <= 0 {
		l.MaxReplyValues = max(DefaultMaxReplyValues, saturatingDouble(l.MaxAggregateLen))
	}
	return l
}

// lineMax returns the longest line text allowed after type byte t.
func (l *Limits) lineMax(t byte) int {
	switch Type(t) {
	case SimpleString, SimpleError, Double, BigNumber:
		return l.MaxLineLen
	}
	return maxHeaderLine
}
