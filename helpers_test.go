package egress

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func countSockets() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// leakCheck fails the test if goroutines or sockets remain after all the
// other cleanups (it is registered first, so it runs last).
func leakCheck(t *testing.T) {
	g0, s0 := runtime.NumGoroutine(), countSockets()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			g, s := runtime.NumGoroutine(), countSockets()
			if g <= g0 && s <= s0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("leak: goroutines %d -> %d, sockets %d -> %d\n%s", g0, g, s0, s, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func newTestTransport(t *testing.T, opts Options) *Transport {
	t.Helper()
	tr, err := NewTransport(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}
