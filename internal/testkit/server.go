package testkit

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Server is a TCP server on loopback run by a test, playing whatever peer
// the test needs: each accepted connection is handed to the handler on a
// goroutine of its own, and closed when the handler returns.
//
// The server stops when the test ends (a cleanup registered by NewServer)
// or at Close: the listener and every live connection are closed, which
// unblocks handlers stuck reading, and Close waits for every handler to
// return, so that a leak check registered before NewServer sees none.
type Server struct {
	ln     net.Listener
	handle func(net.Conn)

	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	accepted int
	finished int
	closed   bool
}

// NewServer starts a server on 127.0.0.1 with a free port that runs handle
// for every connection. A nil handle reads and discards until the
// connection closes: a peer that never answers.
func NewServer(t testing.TB, handle func(c net.Conn)) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln, handle: handle, conns: map[net.Conn]struct{}{}}
	if s.handle == nil {
		s.handle = func(c net.Conn) { io.Copy(io.Discard, c) }
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.accepted++
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.finished++
		s.mu.Unlock()
	}()
	s.handle(c)
}

// Addr returns the address the server listens on, 127.0.0.1:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Accepted returns how many connections the server has accepted.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Finished returns how many connections have been served: their handler
// returned and the connection is closed.
func (s *Server) Finished() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finished
}

// Conns returns the server's side of the connections being served.
func (s *Server) Conns() []net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// CloseConns closes every connection being served; the server goes on
// accepting new ones.
func (s *Server) CloseConns() {
	for _, c := range s.Conns() {
		c.Close()
	}
}

// Close stops the server: no more connections are accepted, the live ones
// are closed, and Close returns when every handler has. Calling it again
// does nothing; calling it from a handler would wait for itself.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// Echo writes back what it reads until the peer stops sending, then closes
// c (with a TLS connection, that sends close_notify): a handler for
// NewServer.
func Echo(c net.Conn) {
	io.Copy(c, c)
	c.Close()
}

// ClosedAddr returns a loopback address where nothing listens: connecting
// to it is refused.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
