package target

import (
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
)

func init() {
	// Start Go's own poller before any leak check counts descriptors.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
}

// countSockets counts socket and anon-inode (epoll, eventfd) descriptors,
// the kinds the engine and the clients create.
func countSockets() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
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

// checkLeaks records the goroutines and sockets now and returns a function
// that fails the test if more remain (after a grace period for goroutines
// that are on their way out).
func checkLeaks(t *testing.T) func() {
	g0, f0 := runtime.NumGoroutine(), countSockets()
	return func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			g, f := runtime.NumGoroutine(), countSockets()
			if g <= g0 && f <= f0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("leak: %d goroutines (was %d), %d sockets (was %d)\n%s", g, g0, f, f0, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// start starts a server for one test, with a leak check and Close as
// cleanups (the leak check runs last).
func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	t.Cleanup(checkLeaks(t))
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// client returns a net/http client for s whose idle connections are closed
// when the test ends.
func client(t *testing.T, s *Server) *http.Client {
	tr := &http.Transport{TLSClientConfig: s.ClientTLSConfig(), DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

var backends = []engine.Backend{engine.BackendPoll, engine.BackendNet}
