package measure

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Hist is a latency histogram that many goroutines (or event loops) record
// into without locks: log-linear buckets of 16 steps per power of two, so
// a quantile is within about 6% of the true value. Recording is one atomic
// add, cheap next to the requests it times, and the same for every client.
type Hist struct {
	on      atomic.Bool
	buckets [histBuckets]atomic.Uint64
}

const (
	histSub     = 16                     // steps per power of two
	histBuckets = 2*histSub + 40*histSub // up to 2^44 ns, about 4.9 hours
)

// Start begins recording; Stop ends it. Only samples recorded in between
// count, so a histogram covers the measurement window alone.
func (h *Hist) Start() { h.on.Store(true) }

// Stop ends recording.
func (h *Hist) Stop() { h.on.Store(false) }

// Record adds one sample while the histogram is recording.
func (h *Hist) Record(d time.Duration) {
	if !h.on.Load() {
		return
	}
	h.buckets[bucketOf(uint64(max(d, 0)))].Add(1)
}

// Quantile returns the q-quantile (0 < q ≤ 1) of the samples, or 0 when
// there are none.
func (h *Hist) Quantile(q float64) time.Duration {
	var n uint64
	for i := range h.buckets {
		n += h.buckets[i].Load()
	}
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			return time.Duration(bucketMid(i))
		}
	}
	return 0
}

// bucketOf maps a value to its bucket: values below 2*histSub have a
// bucket each; above, a bucket covers 1/histSub of its power of two.
func bucketOf(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - 5 // keep the top five bits: 16..31
	i := 2*histSub + (shift-1)*histSub + int(v>>shift) - histSub
	return min(i, histBuckets-1)
}

// bucketMid is the middle of bucket i's range of values.
func bucketMid(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := (i-2*histSub)/histSub + 1
	lo := uint64((i-2*histSub)%histSub+histSub) << shift
	return lo + (uint64(1)<<shift)/2
}
