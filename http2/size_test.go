package http2

import (
	"testing"
	"time"
	"unsafe"
)

// TestConnSize guards idle memory: every HTTP/2 connection keeps a Conn
// (and its Splitter) for its whole life, and the root package's h2conn,
// which embeds it, is allocated in the next size class up. Fields that
// only some connections use are kept out of line (sendWait, bdpSamples),
// the resolved Config is shared, and the fields are ordered to leave no
// padding.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 640 {
		t.Errorf("Conn is %d bytes, want at most 640", n)
	}
	if n := unsafe.Sizeof(Splitter{}); n > 160 {
		t.Errorf("Splitter is %d bytes, want at most 160", n)
	}
}

// TestConfigShared: Conns made with equal Configs share one resolved
// config; a different Config, or one with a clock of its own, gets its
// own.
func TestConfigShared(t *testing.T) {
	var a, b, c, d Conn
	defer func() {
		for _, x := range []*Conn{&a, &b, &c, &d} {
			x.Close(nil)
		}
	}()
	a.Init(Config{StreamWindow: 1 << 20}, nil)
	b.Init(Config{StreamWindow: 1 << 20}, nil)
	if a.cfg != b.cfg {
		t.Error("two Conns made with equal Configs keep a copy each")
	}
	c.Init(Config{StreamWindow: 2 << 20}, nil)
	if c.cfg == a.cfg || c.cfg.streamWindow != 2<<20 || a.cfg.streamWindow != 1<<20 {
		t.Errorf("Configs that differ: shared %v, windows %d and %d", c.cfg == a.cfg, a.cfg.streamWindow, c.cfg.streamWindow)
	}
	at := time.Unix(1e9, 0)
	d.Init(Config{StreamWindow: 1 << 20, Now: func() time.Time { return at }}, nil)
	if d.cfg == a.cfg || !d.cfg.now().Equal(at) {
		t.Error("a Config with a clock of its own shares another's config or loses its clock")
	}
}
