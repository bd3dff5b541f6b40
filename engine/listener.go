package engine

import (
	"errors"
	"net"
	"sync"
)

// ListenConfig tunes Listen. A nil *ListenConfig means the defaults.
type ListenConfig struct {
	// ReusePort opens one listening socket per loop with SO_REUSEPORT, so
	// each loop accepts and serves its own connections (the hybrid pattern:
	// one loop per core). Otherwise a single socket accepts and hands the
	// connections to the loops in turn (the evented pattern). The net
	// backend always uses a single socket.
	ReusePort bool
	// Backlog is the listen queue length; default 1024.
	Backlog int
	// Layer, if set, gives each accepted connection its layer (a TLS
	// server, for one).
	Layer func(c *Conn) Layer
}

// Listener accepts connections into the engine's loops.
type Listener struct {
	e       *Engine
	handler func(c *Conn) Handler
	layer   func(c *Conn) Layer
	addr    *net.TCPAddr
	socks   []*listenSock
	nl      net.Listener // BackendNet
	once    sync.Once
}

// listenSock is one listening socket registered with one loop.
type listenSock struct {
	ln     *Listener
	loop   *Loop
	fd     int
	hybrid bool // one socket per loop: keep what this one accepts
	next   int  // round-robin cursor for handing out connections
	wait   *Timer
}

// Listen starts accepting TCP connections on address. For each accepted
// connection, handler runs on the loop that will own it and returns the
// connection's Handler (nil refuses the connection); OnOpen follows.
// Listen and Listener.Close must not be called from a loop callback.
func (e *Engine) Listen(network, address string, handler func(c *Conn) Handler, cfg *ListenConfig) (*Listener, error) {
	if _, err := parseNetwork(network); err != nil {
		return nil, err
	}
	if handler == nil {
		return nil, errors.New("egress: Listen with nil handler")
	}
	var lc ListenConfig
	if cfg != nil {
		lc = *cfg
	}
	if lc.Backlog <= 0 {
		lc.Backlog = 1024
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrEngineClosed
	}
	ln := &Listener{e: e, handler: handler, layer: lc.Layer}
	var err error
	if e.backend == BackendPoll {
		err = ln.listenPoll(network, address, lc)
	} else {
		err = ln.listenNet(network, address)
	}
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		ln.Close()
		return nil, ErrEngineClosed
	}
	e.listeners[ln] = struct{}{}
	e.mu.Unlock()
	return ln, nil
}

// Addr returns the address the listener is bound to.
func (ln *Listener) Addr() net.Addr { return ln.addr }

// Close stops accepting. Connections already accepted stay open.
func (ln *Listener) Close() error {
	ln.once.Do(func() {
		ln.e.mu.Lock()
		delete(ln.e.listeners, ln)
		ln.e.mu.Unlock()
		if ln.nl != nil {
			ln.nl.Close()
		}
		for _, s := range ln.socks {
			s.close()
		}
	})
	return nil
}

// setup gives an accepted connection its handler and layer; false refuses it.
func (ln *Listener) setup(c *Conn) bool {
	h := ln.handler(c)
	if h == nil {
		return false
	}
	c.SetHandler(h)
	if ln.layer != nil {
		if l := ln.layer(c); l != nil {
			x := c.extras()
			c.mu.Lock()
			x.layer = l
			c.mu.Unlock()
		}
	}
	return true
}

// pick chooses the loop for a newly accepted connection.
func (s *listenSock) pick() *Loop {
	if s.hybrid {
		return s.loop
	}
	loops := s.ln.e.loops
	l := loops[s.next%len(loops)]
	s.next++
	return l
}
