package testkit

import (
	"iter"
	"math/rand/v2"
	"strconv"
	"strings"
)

// A decoder fed by an event loop sees its input cut wherever the kernel
// happened to cut it. These helpers cut a test's input every way that
// matters, so a decoder can be required to give the same result for each.
// They only slice: the chunks share data's memory, and a test that wants
// to catch a decoder keeping references to its input copies each chunk
// before feeding it.

// Whole returns data as a single chunk.
func Whole(data []byte) [][]byte { return [][]byte{data} }

// Bytewise returns data cut into one-byte chunks.
func Bytewise(data []byte) [][]byte {
	out := make([][]byte, len(data))
	for i := range data {
		out[i] = data[i : i+1]
	}
	return out
}

// SplitAt returns data cut at the given offsets, which must be ascending
// and at most len(data): n offsets give n+1 chunks, empty ones where two
// offsets are equal or an offset is 0 or len(data).
func SplitAt(data []byte, cuts ...int) [][]byte {
	out := make([][]byte, 0, len(cuts)+1)
	prev := 0
	for _, c := range cuts {
		out = append(out, data[prev:c])
		prev = c
	}
	return append(out, data[prev:])
}

// Chunks cuts data into pieces whose sizes are taken in turn from sizes,
// each modulo max, plus one (one byte each when sizes is empty): a fuzz
// target passes part of its input as sizes, so that the fuzzer explores
// how the input is split as well as what it holds.
func Chunks(data, sizes []byte, max int) [][]byte {
	var out [][]byte
	for i := 0; len(data) > 0; i++ {
		n := 1
		if len(sizes) > 0 && max > 0 {
			n = int(sizes[i%len(sizes)])%max + 1
		}
		n = min(n, len(data))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

// WithEmptyReads returns chunks with an empty chunk before, between and
// after them: a loop may well feed a decoder nothing new.
func WithEmptyReads(chunks [][]byte) [][]byte {
	out := make([][]byte, 0, 2*len(chunks)+1)
	for _, c := range chunks {
		out = append(out, nil, c)
	}
	return append(out, nil)
}

// Split is one way of cutting an input, with a name that says how, for
// failure messages.
type Split struct {
	Name   string
	Chunks [][]byte
}

// SplitOptions chooses the cuts Splits makes beyond the three it always
// makes (whole, byte by byte, and at every single offset).
type SplitOptions struct {
	// Pairs adds a cut at every pair of offsets i <= j: quadratic in the
	// input's length, for short inputs.
	Pairs bool
	// MaxEvery, when positive, limits the cuts at every offset (and every
	// pair) to inputs no longer than this; longer ones get the random
	// cuts only.
	MaxEvery int
	// Random adds this many cuts at two random offsets each, drawn from a
	// generator seeded with Seed, so that a failure can be replayed.
	Random int
	Seed   uint64
}

// Splits yields data whole, byte by byte, cut at every offset (0 to
// len(data)), and then as o adds. Every chunking is of data itself.
func Splits(data []byte, o SplitOptions) iter.Seq[Split] {
	return func(yield func(Split) bool) {
		if !yield(Split{"whole", Whole(data)}) || !yield(Split{"byte by byte", Bytewise(data)}) {
			return
		}
		if o.MaxEvery <= 0 || len(data) <= o.MaxEvery {
			for i := 0; i <= len(data); i++ {
				if !yield(Split{cutName(i), SplitAt(data, i)}) {
					return
				}
			}
			for i := 0; o.Pairs && i <= len(data); i++ {
				for j := i; j <= len(data); j++ {
					if !yield(Split{cutName(i, j), SplitAt(data, i, j)}) {
						return
					}
				}
			}
		}
		if o.Random <= 0 || len(data) < 2 {
			return
		}
		rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
		for range o.Random {
			a, b := rng.IntN(len(data)+1), rng.IntN(len(data)+1)
			a, b = min(a, b), max(a, b)
			if !yield(Split{cutName(a, b) + " (seed " + strconv.FormatUint(o.Seed, 10) + ")", SplitAt(data, a, b)}) {
				return
			}
		}
	}
}

func cutName(cuts ...int) string {
	s := make([]string, len(cuts))
	for i, c := range cuts {
		s[i] = strconv.Itoa(c)
	}
	return "cut at " + strings.Join(s, ",")
}
