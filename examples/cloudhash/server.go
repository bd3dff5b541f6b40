package cloudhash

import (
	"bytes"
	"errors"
	"hash/maphash"
	"net"
	"sync"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/frame"
)

// MaxLine bounds a request or reply line (key and value together).
const MaxLine = 64 << 10

// Mode is how a server spreads connections over the engine's loops.
type Mode int

const (
	// Evented: one listening socket; the loop that owns it accepts and
	// hands connections to the loops in turn. One place decides where a
	// connection goes.
	Evented Mode = iota
	// Hybrid: one listening socket per loop (SO_REUSEPORT), so each loop
	// accepts and serves its own connections and the kernel spreads them:
	// no hand-off between loops at all.
	Hybrid
)

// String returns "evented" or "hybrid".
func (m Mode) String() string {
	if m == Hybrid {
		return "hybrid"
	}
	return "evented"
}

// ParseMode parses "evented" or "hybrid".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "evented":
		return Evented, nil
	case "hybrid":
		return Hybrid, nil
	}
	return 0, errors.New("cloudhash: mode must be evented or hybrid")
}

// Server serves the CloudHash protocol on an engine listener. Every
// connection's callbacks run on its loop; the store is shared by all
// loops and sharded to keep them from contending.
type Server struct {
	ln    *engine.Listener
	store store
}

// Listen starts a server on addr ("127.0.0.1:0" picks a port).
func Listen(e *engine.Engine, addr string, mode Mode) (*Server, error) {
	s := &Server{}
	s.store.init()
	ln, err := e.Listen("tcp", addr, s.accept, &engine.ListenConfig{ReusePort: mode == Hybrid})
	if err != nil {
		return nil, err
	}
	s.ln = ln
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting; open connections are closed with the engine.
func (s *Server) Close() error { return s.ln.Close() }

// accept runs on the loop that will own c.
func (s *Server) accept(c *engine.Conn) engine.Handler {
	dec, _ := frame.NewLineDecoder("\n", MaxLine)
	sess := &session{s: s, c: c, dec: dec}
	sess.emit = sess.line
	return sess
}

// session is one client connection. Replies to all the requests found in
// one read are gathered in out and written with one Write.
type session struct {
	engine.BaseHandler
	s    *Server
	c    *engine.Conn
	dec  *frame.LineDecoder
	emit func([]byte) error
	out  []byte
}

func (ss *session) OnData(c *engine.Conn, data []byte) {
	ss.out = ss.out[:0]
	err := ss.dec.Feed(data, ss.emit)
	if err != nil {
		ss.out = append(ss.out, "ERR "+err.Error()+"\n"...)
	}
	if len(ss.out) > 0 {
		c.Write(ss.out)
	}
	if err != nil {
		c.CloseWrite() // the stream is out of step: say why, then hang up
	}
	if cap(ss.out) > 4*MaxLine {
		ss.out = nil // a burst of big replies: do not keep its buffer
	}
}

func (ss *session) OnClose(*engine.Conn, error) { ss.dec.Reset() }

// line handles one request; it may not keep line.
func (ss *session) line(line []byte) error {
	line = bytes.TrimSuffix(line, []byte("\r"))
	cmd, rest, _ := bytes.Cut(line, []byte(" "))
	switch {
	case equalFold(cmd, "GET"):
		if len(rest) == 0 || bytes.IndexByte(rest, ' ') >= 0 {
			ss.out = append(ss.out, "ERR usage: GET key\n"...)
			return nil
		}
		if v, ok := ss.s.store.get(rest); ok {
			ss.out = append(append(append(ss.out, "VALUE "...), v...), '\n')
		} else {
			ss.out = append(ss.out, "NIL\n"...)
		}
	case equalFold(cmd, "SET"):
		key, value, ok := bytes.Cut(rest, []byte(" "))
		if !ok || len(key) == 0 {
			ss.out = append(ss.out, "ERR usage: SET key value\n"...)
			return nil
		}
		ss.s.store.set(key, value)
		ss.out = append(ss.out, "OK\n"...)
	default:
		ss.out = append(ss.out, "ERR unknown command\n"...)
	}
	return nil
}

func equalFold(b []byte, s string) bool { return len(b) == len(s) && bytes.EqualFold(b, []byte(s)) }

// store is a map sharded by key hash, so that loops serving different
// keys rarely wait for each other.
type store struct {
	seed   maphash.Seed
	shards [64]shard
}

type shard struct {
	mu sync.RWMutex
	m  map[string]string
}

func (st *store) init() {
	st.seed = maphash.MakeSeed()
	for i := range st.shards {
		st.shards[i].m = map[string]string{}
	}
}

func (st *store) shard(key []byte) *shard {
	return &st.shards[maphash.Bytes(st.seed, key)%uint64(len(st.shards))]
}

func (st *store) get(key []byte) (string, bool) {
	sh := st.shard(key)
	sh.mu.RLock()
	v, ok := sh.m[string(key)] // no allocation for the lookup
	sh.mu.RUnlock()
	return v, ok
}

func (st *store) set(key, value []byte) {
	sh := st.shard(key)
	sh.mu.Lock()
	sh.m[string(key)] = string(value)
	sh.mu.Unlock()
}
