// Package bufpool hands out byte slices from a few size classes so that
// connections hold memory only while they need it: an idle connection
// returns its buffers here.
//
// Buffers are kept as pointers to fixed-size arrays, which sync.Pool can
// store without allocating a box for a slice header.
package bufpool

import "sync"

// Size classes, smallest first. A request larger than the last class is
// served by make and never pooled.
const (
	c0 = 512
	c1 = 2 << 10
	c2 = 8 << 10
	c3 = 32 << 10
	c4 = 128 << 10
	c5 = 512 << 10
)

// MaxPooled is the largest capacity the pool keeps.
const MaxPooled = c5

var (
	p0 = sync.Pool{New: func() any { return new([c0]byte) }}
	p1 = sync.Pool{New: func() any { return new([c1]byte) }}
	p2 = sync.Pool{New: func() any { return new([c2]byte) }}
	p3 = sync.Pool{New: func() any { return new([c3]byte) }}
	p4 = sync.Pool{New: func() any { return new([c4]byte) }}
	p5 = sync.Pool{New: func() any { return new([c5]byte) }}
)

// Get returns a zero-length slice whose capacity is at least n: the
// smallest size class that fits, or exactly n when n exceeds MaxPooled.
func Get(n int) []byte {
	switch {
	case n <= c0:
		return p0.Get().(*[c0]byte)[:0]
	case n <= c1:
		return p1.Get().(*[c1]byte)[:0]
	case n <= c2:
		return p2.Get().(*[c2]byte)[:0]
	case n <= c3:
		return p3.Get().(*[c3]byte)[:0]
	case n <= c4:
		return p4.Get().(*[c4]byte)[:0]
	case n <= c5:
		return p5.Get().(*[c5]byte)[:0]
	}
	return make([]byte, 0, n)
}

// Put gives b back for reuse. Only slices obtained from Get should be put;
// a slice whose capacity is not exactly a size class is dropped, so
// putting a foreign slice is harmless. The caller must not touch b after.
func Put(b []byte) {
	switch cap(b) {
	case c0:
		p0.Put((*[c0]byte)(b[:c0]))
	case c1:
		p1.Put((*[c1]byte)(b[:c1]))
	case c2:
		p2.Put((*[c2]byte)(b[:c2]))
	case c3:
		p3.Put((*[c3]byte)(b[:c3]))
	case c4:
		p4.Put((*[c4]byte)(b[:c4]))
	case c5:
		p5.Put((*[c5]byte)(b[:c5]))
	}
}

// Grow returns a slice holding b's contents with room for at least n more
// bytes. When b must move, its old storage goes back to the pool.
func Grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := Get(max(len(b)+n, 2*cap(b)))
	nb = append(nb, b...)
	Put(b)
	return nb
}
