package measure

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h Hist
	h.Record(time.Second) // not recording yet: ignored
	h.Start()
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	h.Stop()
	h.Record(time.Hour) // stopped: ignored
	for q, want := range map[float64]float64{0.5: 500, 0.99: 990, 1: 1000} {
		got := float64(h.Quantile(q)) / float64(time.Microsecond)
		if math.Abs(got-want)/want > 0.07 { // buckets are 1/16 of a power of two wide
			t.Errorf("q%.2f = %.1f us, want about %.0f", q, got, want)
		}
	}
	var empty Hist
	if empty.Quantile(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
}

func TestHistBucketsRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 31, 32, 33, 1000, 123456, 1 << 30, 1<<44 - 1} {
		mid := bucketMid(bucketOf(v))
		if v >= 32 && math.Abs(float64(mid)-float64(v))/float64(v) > 1.0/16 {
			t.Errorf("%d lands in a bucket around %d", v, mid)
		}
		if v < 32 && mid != v {
			t.Errorf("small value %d maps to %d", v, mid)
		}
	}
	if b := bucketOf(math.MaxUint64); b != histBuckets-1 {
		t.Errorf("huge value in bucket %d", b)
	}
}

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "1234 (ngi nx) worker) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 0 0"
	if got := parseStatCPU(stat); got != 3*time.Second {
		t.Fatalf("cpu %v, want 3s", got)
	}
	if parseStatCPU("garbage") != 0 {
		t.Fatal("garbage parsed")
	}
}

func TestPerConn(t *testing.T) {
	rss, heap, stack := PerConn(Memory{RSS: 1000, Heap: 100, Stack: 10}, Memory{RSS: 11000, Heap: 5100, Stack: 10}, 10)
	if rss != 1000 || heap != 500 || stack != 0 {
		t.Fatalf("%v %v %v", rss, heap, stack)
	}
}

func TestParseHWM(t *testing.T) {
	status := "Name:\tx\nVmPeak:\t  900 kB\nVmHWM:\t   12345 kB\nVmRSS:\t  100 kB\n"
	if got := parseHWM(status); got != 12345<<10 {
		t.Fatalf("VmHWM %d, want %d", got, 12345<<10)
	}
	if got := parseHWM("VmRSS:\t1 kB\n"); got != 0 {
		t.Fatalf("no VmHWM line: %d", got)
	}
}

// TestPeakRSSReset touches 64 MiB, frees it, resets the peak and checks
// that the peak no longer counts it, and that it counts 32 MiB touched
// after the reset.
func TestPeakRSSReset(t *testing.T) {
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1
	}
	if p := PeakRSS(); p < 64<<20 {
		t.Fatalf("peak %d B after touching 64 MiB", p)
	}
	b = nil
	runtime.GC()
	debug.FreeOSMemory()
	if err := ResetPeakRSS(); err != nil {
		t.Fatalf("resetting the peak: %v", err)
	}
	if p, r := PeakRSS(), RSS(); p >= r+32<<20 {
		t.Fatalf("peak %d B after the reset, RSS %d B: the freed 64 MiB still counts", p, r)
	}
	before := PeakRSS()
	c := make([]byte, 32<<20)
	for i := range c {
		c[i] = 1
	}
	if p := PeakRSS(); p < before+30<<20 {
		t.Fatalf("peak %d B, %d B before touching 32 MiB", p, before)
	}
	runtime.KeepAlive(c)
}
