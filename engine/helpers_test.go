package engine

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/leaktest"
)

var backends = []Backend{BackendPoll, BackendNet}

// forEachBackend runs f as a subtest per backend, with a leak check.
func forEachBackend(t *testing.T, f func(t *testing.T, be Backend)) {
	t.Helper()
	for _, be := range backends {
		t.Run(be.String(), func(t *testing.T) {
			if be == BackendPoll && !pollSupported {
				t.Skip("no poll backend on this platform")
			}
			leaktest.Check(t) // first, so that it runs after every other cleanup
			f(t, be)
		})
	}
}

func newEngine(t *testing.T, be Backend, cfg Config) *Engine {
	t.Helper()
	cfg.Backend = be
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func raiseFileLimit(t *testing.T) uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	rl.Cur = rl.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	return rl.Cur
}

// goServer is a test peer on Go's net package: serve runs per connection.
type goServer struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	cons []net.Conn
}

func newGoServer(t *testing.T, serve func(c net.Conn)) *goServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &goServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.cons = append(s.cons, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				serve(c)
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *goServer) addr() string { return s.ln.Addr().String() }

func (s *goServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.cons {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func echoServe(c net.Conn) { io.Copy(c, c); c.Close() }

// result collects a connection's callbacks for a test to wait on.
type result struct {
	opened chan struct{}
	closed chan error
	mu     sync.Mutex
	data   []byte
	onData func(c *Conn, b []byte)
}

func newResult() *result {
	return &result{opened: make(chan struct{}, 1), closed: make(chan error, 1)}
}

func (r *result) handler() *HandlerFuncs {
	return &HandlerFuncs{
		Open: func(*Conn) { r.opened <- struct{}{} },
		Data: func(c *Conn, b []byte) {
			r.mu.Lock()
			r.data = append(r.data, b...)
			r.mu.Unlock()
			if r.onData != nil {
				r.onData(c, b)
			}
		},
		Close: func(_ *Conn, err error) { r.closed <- err },
	}
}

func (r *result) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.data...)
}

func (r *result) waitOpen(t *testing.T) {
	t.Helper()
	select {
	case <-r.opened:
	case err := <-r.closed:
		t.Fatalf("closed before open: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for OnOpen")
	}
}

func (r *result) waitClose(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.closed:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for OnClose")
	}
	return nil
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func mustIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v (%T) is not %v", err, err, target)
	}
}
