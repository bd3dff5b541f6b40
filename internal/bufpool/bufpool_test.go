package bufpool

import (
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// raceEnabled is set by race_test.go when the race detector is on.
var raceEnabled bool

func TestGetCapacityClasses(t *testing.T) {
	for _, n := range []int{0, 1, 512, 513, 2048, 9000, 40000, 200000, 512 << 10} {
		b := Get(n)
		if len(b) != 0 || cap(b) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		Put(b)
	}
	big := Get(MaxPooled + 1)
	if cap(big) != MaxPooled+1 {
		t.Fatalf("oversize Get: cap %d", cap(big))
	}
	Put(big) // dropped, must not panic
	Put(make([]byte, 10, 700))
}

func TestGrowKeepsContents(t *testing.T) {
	b := append(Get(10), "hello"...)
	b = Grow(b, 5000)
	if string(b) != "hello" || cap(b)-len(b) < 5000 {
		t.Fatalf("Grow: %q cap %d", b, cap(b))
	}
	Put(b)
}

func TestGetPutNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	allocs := testkit.AllocsPerOp(20, testkit.AllocBatch, func() {
		b := Get(3000)
		Put(b)
	})
	if allocs != 0 {
		t.Fatalf("Get/Put allocates %.2f times per pair", allocs)
	}
}
