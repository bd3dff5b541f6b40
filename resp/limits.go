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
