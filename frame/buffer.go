package frame

import "github.com/egress-go/egress/internal/bufpool"

// Decoder is the interface shared by LineDecoder and LengthDecoder, for
// code that drives either one.
type Decoder interface {
	// Feed decodes data and calls emit with every frame that completes.
	Feed(data []byte, emit func(frame []byte) error) error
	// Buffered reports how many bytes of an incomplete frame are held.
	Buffered() int
	// Reset drops any buffered bytes and a sticky error.
	Reset()
}

var (
	_ Decoder = (*LineDecoder)(nil)
	_ Decoder = (*LengthDecoder)(nil)
)

// appendBounded appends p to b, a pooled buffer (or nil), moving to a larger
// pooled buffer when needed. Capacity at least doubles on each move, so a
// frame that arrives in many pieces is copied a bounded number of times in
// total, but it never exceeds limit (when limit is larger than len(b)+len(p)):
// a peer that merely announces a large frame does not make us reserve it.
func appendBounded(b, p []byte, limit int) []byte {
	if cap(b)-len(b) >= len(p) {
		return append(b, p...)
	}
	want := max(len(b)+len(p), 2*cap(b))
	if limit >= len(b)+len(p) {
		want = min(want, limit)
	}
	nb := bufpool.Get(want)
	nb = append(nb, b...)
	nb = append(nb, p...)
	if b != nil {
		bufpool.Put(b)
	}
	return nb
}

// release returns b to the pool; it is a no-op for nil.
func release(b []byte) {
	if b != nil {
		bufpool.Put(b)
	}
}
