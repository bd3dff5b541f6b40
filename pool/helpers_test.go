package pool

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

// raceEnabled is set by race_test.go when the race detector is on.
var raceEnabled bool

// server is the kit's loopback server, echoing what it reads; it can close
// connections that stay idle, and write to them unasked.
type server struct {
	*testkit.Server
	t testing.TB
}

func newServer(t testing.TB, idle time.Duration) *server {
	t.Helper()
	return &server{t: t, Server: testkit.NewServer(t, func(c net.Conn) { echoUntilIdle(c, idle) })}
}

// echoUntilIdle echoes what it reads, and returns when c stays idle for
// idle (if not 0) or ends.
func echoUntilIdle(c net.Conn, idle time.Duration) {
	buf := make([]byte, 4096)
	for {
		if idle > 0 {
			c.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *server) addr() string { return s.Addr() }

// stats returns how many connections were accepted and have ended.
func (s *server) stats() (accepted, closed int) { return s.Accepted(), s.Finished() }

// conn returns the server side of the client connection from addr,
// waiting for Accept, which may lag the client's connect.
func (s *server) conn(addr string) net.Conn {
	s.t.Helper()
	var c net.Conn
	waitFor(s.t, "the server to accept "+addr, func() bool {
		for _, sc := range s.Conns() {
			if sc.RemoteAddr().String() == addr {
				c = sc
				return true
			}
		}
		return false
	})
	return c
}

// push writes b, unasked, to the server side of pc.
func (s *server) push(pc *Conn, b []byte) {
	s.t.Helper()
	if _, err := s.conn(localAddr(s.t, pc)).Write(b); err != nil {
		s.t.Fatal(err)
	}
}

// waitFor polls cond until it holds or a bounded time passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// setup starts the leak check, a server, an engine with two loops and a
// pool. Cleanups run pool, engine, server, leak check: the reverse order.
func setup(t testing.TB, cfg Config, idle time.Duration) (*Pool, *server, Key) {
	t.Helper()
	testkit.CheckLeaks(t)
	srv := newServer(t, idle)
	e, err := engine.New(engine.Config{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	p := New(e, cfg)
	t.Cleanup(func() { p.Close() })
	return p, srv, Key{Network: "tcp", Addr: srv.addr()}
}

// recorder is the kit's handler that records what a connection receives.
type recorder = testkit.Recorder[*engine.Conn]

func newRecorder() *recorder { return testkit.NewRecorder[*engine.Conn]() }

// roundTrip writes msg on pc through a fresh recorder and waits for the
// echo.
func roundTrip(t testing.TB, pc *Conn, msg string) {
	t.Helper()
	rec := newRecorder()
	pc.SetHandler(rec)
	if err := pc.Engine().Write([]byte(msg)); err != nil {
		t.Fatal("write:", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, ok := rec.Take(len(msg)); ok {
			if string(got) != msg {
				t.Fatalf("echo %q, want %q", got, msg)
			}
			return
		}
		select {
		case <-rec.Closed():
			t.Fatalf("connection closed during round trip: %v", rec.Err())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no echo")
		}
		time.Sleep(time.Millisecond)
	}
}

func mustRequest(t testing.TB, p *Pool, key Key) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pc, err := p.Request(ctx, key, nil)
	if err != nil {
		t.Fatal("request:", err)
	}
	return pc
}

func mustRelease(t testing.TB, pc *Conn, reusable bool) {
	t.Helper()
	if err := pc.Release(reusable); err != nil {
		t.Fatal("release:", err)
	}
}

// localAddr returns pc's local address.
func localAddr(t testing.TB, pc *Conn) string {
	t.Helper()
	return pc.Engine().LocalAddr().String()
}
