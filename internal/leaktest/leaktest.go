// Package leaktest checks that a test leaves no goroutine, socket or
// poller behind: DESIGN's "nothing leaks" rule, enforced in every package
// that opens connections.
package leaktest

import (
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var netpollOnce sync.Once

// Check records the goroutines and descriptors open now and registers a
// cleanup that fails the test if, after a bounded wait, more remain.
// Call it first in a test: cleanups run last-registered first, so this one
// runs after the test's own (servers closed, transports shut down).
func Check(t testing.TB) {
	t.Helper()
	// Go's own poller opens an epoll and an eventfd on first use; make
	// sure that happened before counting.
	netpollOnce.Do(func() {
		if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			ln.Close()
		}
	})
	g0, f0 := runtime.NumGoroutine(), Descriptors()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			g, f := runtime.NumGoroutine(), Descriptors()
			if g <= g0 && f <= f0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("leak: goroutines %d -> %d, sockets and pollers %d -> %d\n%s", g0, g, f0, f, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// Descriptors counts the open descriptors a network test can leak:
// sockets and pollers (epoll, eventfd). Other files (the runtime's cgroup
// files, the test framework's pipes) come and go on their own and are not
// counted. It returns 0 where /proc is missing.
func Descriptors() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if strings.HasPrefix(l, "socket:") || strings.HasPrefix(l, "anon_inode:") {
			n++
		}
	}
	return n
}
