package tlsconn

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
)

// TestIdleConnectionsHoldNoGoroutine opens 1,000 TLS connections, client
// and server both on engines in this process, exchanges a message on each,
// and checks that once they are idle no goroutine is left per connection:
// not for the handshakes, not for reading.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	checkLeaks(t)
	const n = 1000
	srvEng := newEngine(t, engine.BackendPoll)
	addr := newEngineServer(t, srvEng, serverTLS(), echoHandler)
	e := newEngine(t, engine.BackendPoll)
	cl := newClient(t, Config{})
	g0 := runtime.NumGoroutine()

	var echoed, closed atomic.Int32
	var wg sync.WaitGroup
	h := &engine.HandlerFuncs{
		Open: func(c *engine.Conn) { c.Write([]byte("ping")) },
		Data: func(c *engine.Conn, b []byte) {
			got, _ := c.Value().(int)
			got += len(b)
			c.SetValue(got)
			echoed.Add(int32(len(b)))
			if got == 4 {
				wg.Done()
			}
		},
		Close: func(c *engine.Conn, err error) { closed.Add(1) },
	}
	conns := make([]*engine.Conn, 0, n)
	start := time.Now()
	// Dial in batches, as a pool filling up would, rather than 1,000
	// handshakes queued at once against the timeout.
	for len(conns) < n {
		wg.Add(100)
		for i := 0; i < 100; i++ {
			c, err := e.Dial(t.Context(), "tcp", addr, h, &engine.DialOptions{Layer: cl.Layer("localhost")})
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		waitGroup(t, &wg, "a batch of echoes")
	}
	if closed.Load() != 0 || echoed.Load() != 4*n {
		t.Fatalf("closed %d, echoed %d bytes", closed.Load(), echoed.Load())
	}
	t.Logf("%d TLS connections up and echoed in %v", n, time.Since(start).Round(time.Millisecond))

	running, _ := clientPool.stats()
	srunning, _ := serverPool.stats()
	// Workers leave the pool's count before their goroutines end: wait
	// for both (an idle connection holding a goroutine never lets the
	// count come down).
	g := runtime.NumGoroutine()
	deadline := time.Now().Add(10 * time.Second)
	for (running != 0 || srunning != 0 || g > g0+4) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		running, _ = clientPool.stats()
		srunning, _ = serverPool.stats()
		g = runtime.NumGoroutine()
	}
	t.Logf("goroutines: %d before, %d with %d idle TLS connections (x2 ends); handshake workers %d+%d", g0, g, n, running, srunning)
	if g > g0+4 || running != 0 || srunning != 0 {
		t.Fatalf("%d goroutines for %d idle connections (%d before); workers %d+%d", g, n, g0, running, srunning)
	}
	for _, c := range conns {
		c.Close()
	}
	deadline = time.Now().Add(10 * time.Second)
	for closed.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if closed.Load() != n {
		t.Fatalf("%d of %d closed", closed.Load(), n)
	}
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
