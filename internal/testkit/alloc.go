package testkit

import (
	"runtime"
	"testing"
)

// AllocBatch is how many operations AllocsPerOp's callers usually time in
// one run: a test that wants no allocation then fails at one allocation
// per hundred operations.
const AllocBatch = 100

// AllocsPerOp returns the average number of heap allocations per call of
// op, measured by testing.AllocsPerRun (a warm-up, then runs runs with
// GOMAXPROCS at 1) where each run calls op batch times.
//
// AllocsPerRun divides with integers: timing one call per run, it reads 0
// up to 0.99 allocations per call, so "allocates nothing" would pass at an
// allocation nearly every call. Timing batch calls per run and dividing
// as floats, an allocation every batch calls or more often reads above 0.
// Allocation counts need the race detector off (it makes sync.Pool drop
// items at random): callers skip under -race.
func AllocsPerOp(runs, batch int, op func()) float64 {
	return testing.AllocsPerRun(runs, func() {
		for range batch {
			op()
		}
	}) / float64(batch)
}

// BytesPerOp returns the average number of heap bytes allocated per call
// of op, counted over the whole process (a loop's allocations on behalf
// of op count too), with GOMAXPROCS at 1 and after one warm-up call. Like
// AllocsPerOp it needs the race detector off.
func BytesPerOp(calls int, op func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	op()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range calls {
		op()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(calls)
}
