package pool

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/egress-go/egress/engine"
)

// passLayer is a layer that changes nothing and counts Compact calls.
type passLayer struct{ compacts atomic.Int32 }

func (l *passLayer) Start(c *engine.Conn)                   { c.LayerReady() }
func (l *passLayer) Input(c *engine.Conn, raw []byte) error { c.Deliver(raw); return nil }
func (l *passLayer) InputEOF(*engine.Conn) error            { return nil }
func (l *passLayer) Write(c *engine.Conn, p []byte) error   { return c.WriteRaw(p) }
func (l *passLayer) Close(*engine.Conn)                     {}
func (l *passLayer) Compact(*engine.Conn)                   { l.compacts.Add(1) }

// TestReleaseCompactsLayer: a connection released as reusable, and so
// going idle, has its layer compacted; one released as not reusable is
// closed and is not.
func TestReleaseCompactsLayer(t *testing.T) {
	p0, srv, key := setup(t, DefaultConfig(), 0)
	e := p0.e
	cfg := DefaultConfig()
	layers := make(chan *passLayer, 2)
	cfg.Dial = func(ctx context.Context, key Key, h engine.Handler) (*engine.Conn, error) {
		l := &passLayer{}
		layers <- l
		return e.Dial(ctx, "tcp", key.Addr, h, &engine.DialOptions{Layer: l})
	}
	p := New(e, cfg)
	t.Cleanup(func() { p.Close() })
	_ = srv

	a, err := p.Request(context.Background(), key, newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	la := <-layers
	roundTrip(t, a, "ping")
	mustRelease(t, a, true)
	waitFor(t, "Compact on release", func() bool { return la.compacts.Load() == 1 })

	b, err := p.Request(context.Background(), key, newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	if b != a {
		t.Fatal("the idle connection was not reused")
	}
	mustRelease(t, b, false)
	// A Compact asked for by Release runs on the loop before the close
	// that Release also asked for (or is dropped by it): once the pool has
	// seen the close, a stray one would have been counted.
	waitFor(t, "the discarded connection to close", func() bool { return p.Stats().Open == 0 })
	if n := la.compacts.Load(); n != 1 {
		t.Fatalf("%d compacts, want 1: a connection released as not reusable was compacted", n)
	}
}
