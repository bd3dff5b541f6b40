package engine

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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
			t.Cleanup(checkLeaks(t)) // registered first, so it runs after every other cleanup
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

// countFDs counts the descriptors the engine can create on Linux: sockets
// and pollers (epoll, eventfd). The runtime and the test framework open
// other files and pipes of their own as they please.
func countFDs() int {
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

func listFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var s []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		s = append(s, e.Name()+"="+l)
	}
	return strings.Join(s, " ")
}

func init() {
	// Start Go's own poller (an epoll and an eventfd) before any leak check
	// counts descriptors.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
}

// checkLeaks records goroutines and open descriptors; the returned func
// fails the test if, after a bounded wait, more remain.
func checkLeaks(t *testing.T) func() {
	g0, f0 := runtime.NumGoroutine(), countFDs()
	startFDs := listFDs()
	return func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			g, f := runtime.NumGoroutine(), countFDs()
			if g <= g0 && f <= f0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("leak: goroutines %d -> %d, fds %d -> %d\nbefore: %s\nafter: %s\n%s", g0, g, f0, f, startFDs, listFDs(), buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
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
