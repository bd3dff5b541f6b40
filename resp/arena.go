package resp

import "sync"

// arena hands out the child slices of the values of one reply. Between
// replies its chunks go back to shared pools, so a decoder that is not in
// the middle of a reply holds none: aggregates cost no allocation in steady
// state, and idle connections cost no memory.
type arena struct {
	chunks []chunk // in use for the current reply; the last has free room
}

// chunk is a pooled array of values seen as a slice: len is the part handed
// out, cap the array's size.
type chunk []Value

// Chunk size classes. An aggregate larger than the last class gets a chunk
// of its own that is not pooled.
const (
	chunk0 = 64
	chunk1 = 1024
	chunk2 = 16 << 10
)

var (
	chunkPool0 = sync.Pool{New: func() any { return new([chunk0]Value) }}
	chunkPool1 = sync.Pool{New: func() any { return new([chunk1]Value) }}
	chunkPool2 = sync.Pool{New: func() any { return new([chunk2]Value) }}
)

// emptyList is the non-nil list given to empty aggregates, so that an empty
// attribute stays distinguishable from none.
var emptyList = []Value{}

// alloc returns n contiguous zero values.
func (a *arena) alloc(n int) []Value {
	if n == 0 {
		return emptyList
	}
	if k := len(a.chunks); k > 0 {
		c := a.chunks[k-1]
		if cap(c)-len(c) >= n {
			a.chunks[k-1] = c[:len(c)+n]
			return c[len(c) : len(c)+n : len(c)+n]
		}
	}
	want := n
	if k := len(a.chunks); k > 0 {
		// A reply that outgrew its chunk is probably large: take a bigger
		// one next, so that it needs few chunks.
		want = max(n, min(2*cap(a.chunks[k-1]), chunk2))
	}
	c := newChunk(want)
	a.chunks = append(a.chunks, c[:n])
	return c[:n:n]
}

// newChunk returns an empty chunk with room for at least n values: the
// smallest pooled class that fits, or an unpooled chunk of exactly n.
func newChunk(n int) chunk {
	switch {
	case n <= chunk0:
		return chunkPool0.Get().(*[chunk0]Value)[:0]
	case n <= chunk1:
		return chunkPool1.Get().(*[chunk1]Value)[:0]
	case n <= chunk2:
		return chunkPool2.Get().(*[chunk2]Value)[:0]
	}
	return make(chunk, 0, n)
}

// release zeroes the values handed out, so that pooled chunks do not keep
// the reply's input alive, and returns the chunks to their pools.
func (a *arena) release() {
	for i, c := range a.chunks {
		clear(c)
		switch cap(c) {
		case chunk0:
			chunkPool0.Put((*[chunk0]Value)(c[:chunk0]))
		case chunk1:
			chunkPool1.Put((*[chunk1]Value)(c[:chunk1]))
		case chunk2:
			chunkPool2.Put((*[chunk2]Value)(c[:chunk2]))
		}
		a.chunks[i] = nil
	}
	a.chunks = a.chunks[:0]
}
