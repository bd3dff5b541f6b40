package pool

import (
	"context"
	"runtime"
	"testing"
)

// BenchmarkRequestRelease measures the steady state of a pool: taking an
// idle connection and giving it back, with no I/O. Uncontended, and with
// 64 goroutines on one key.
func BenchmarkRequestRelease(b *testing.B) {
	b.Run("uncontended", func(b *testing.B) { benchRequestRelease(b, 1) })
	b.Run("64goroutines", func(b *testing.B) { benchRequestRelease(b, 64) })
}

func benchRequestRelease(b *testing.B, goroutines int) {
	p, _, key := setup(b, DefaultConfig(), 0)
	if n, err := p.Warm(context.Background(), key, goroutines); n != goroutines {
		b.Fatal("warm:", n, err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	if goroutines == 1 {
		for b.Loop() {
			pc, err := p.Request(ctx, key, nil)
			if err != nil {
				b.Fatal(err)
			}
			p.Release(pc, true)
		}
		return
	}
	b.SetParallelism((goroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			pc, err := p.Request(ctx, key, nil)
			if err != nil {
				b.Error(err)
				return
			}
			p.Release(pc, true)
		}
	})
	b.StopTimer()
	if st := p.Stats(); st.Dials != int64(goroutines) {
		b.Logf("dials during the run: %d", st.Dials-int64(goroutines))
	}
}
