package load

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry: nanoseconds from 1 µs to one hour with three
// significant digits (0.1% resolution), the usual choice for latency.
const (
	LowestLatency  = int64(time.Microsecond)
	HighestLatency = int64(time.Hour)
	SigFigs        = 3
)

// NewHistogram returns an empty latency histogram of the standard
// geometry; merged histograms must share it.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(LowestLatency, HighestLatency, SigFigs)
}

// maxStatus bounds the status codes counted one by one; anything above
// (a broken server) is counted as 999.
const maxStatus = 1000

// shard collects results from a subset of the slots. Completions arrive
// on every loop at once; one lock per shard keeps them from contending
// on a single histogram, and lets the sampler take a consistent interval
// of counts, statuses and latencies together.
type shard struct {
	mu        sync.Mutex
	hist      *hdrhistogram.Histogram // since the last harvest
	completed int64                   // since the start
	failed    int64
	status    [maxStatus]int64
	errs      map[string]int64
	bodyBytes int64
	_         [64]byte // keep neighbouring shards' locks off one cache line
}

func newShards(n int) []*shard {
	s := make([]*shard, n)
	for i := range s {
		s[i] = &shard{hist: NewHistogram(), errs: map[string]int64{}}
	}
	return s
}

// record counts one finished request. Latency is recorded for responses
// only: the time a connection took to be refused says nothing about the
// server's latency, and errors are counted apart.
func (s *shard) record(latency int64, status int, errClass string, body int64) {
	latency = min(max(latency, LowestLatency), HighestLatency)
	s.mu.Lock()
	if errClass == "" {
		s.hist.RecordValue(latency)
	}
	s.completed++
	s.bodyBytes += body
	if errClass != "" {
		s.failed++
		s.errs[errClass]++
	} else {
		s.status[min(status, maxStatus-1)]++
	}
	s.mu.Unlock()
}

// counts are running totals over all shards.
type counts struct {
	completed, failed, bodyBytes int64
}

func sumCounts(shards []*shard) counts {
	var c counts
	for _, s := range shards {
		s.mu.Lock()
		c.completed += s.completed
		c.failed += s.failed
		c.bodyBytes += s.bodyBytes
		s.mu.Unlock()
	}
	return c
}

// harvest moves every shard's latencies recorded since the last harvest
// into dst, and returns the running totals read at the same moments, so
// that an interval's counts and latencies agree.
func harvest(shards []*shard, dst *hdrhistogram.Histogram) counts {
	var c counts
	for _, s := range shards {
		s.mu.Lock()
		if s.hist.TotalCount() > 0 {
			dst.Merge(s.hist)
			s.hist.Reset()
		}
		c.completed += s.completed
		c.failed += s.failed
		c.bodyBytes += s.bodyBytes
		s.mu.Unlock()
	}
	return c
}
