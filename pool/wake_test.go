package pool

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
)

// Requests of a key known to multiplex wait for the connection being
// dialed rather than dial each. When its first user shares it with room
// for fewer streams than there are waiters, the ones left out dial: they
// no longer have a stream coming, and must not wait until a stream frees
// (or their context ends).
func TestShareLimitWakesWaitersToDial(t *testing.T) {
	p, _, key := setup(t, DefaultConfig(), 0)
	first := mustRequest(t, p, key)
	if err := first.Share(1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	chans := []chan result{asyncRequest(p, ctx, key), asyncRequest(p, ctx, key), asyncRequest(p, ctx, key)}
	got := recv(t, chans[0])
	if err := got.Share(2); err != nil {
		t.Fatal(err)
	}
	if recv(t, chans[1]) != got {
		t.Fatal("a waiter did not get the new connection's free stream")
	}
	if last := recv(t, chans[2]); last == got || last == first {
		t.Fatal("a full connection gave a stream")
	}
	if st := p.KeyStats(key); st.Dials != 3 || st.Waiting != 0 {
		t.Fatalf("stats %+v, want 3 dials and no waiter", st)
	}
}

// The same when the first user of the awaited connection finds it is not
// multiplexed (HTTP/1.1 negotiated) and releases it: it goes to the oldest
// waiter, and the others dial.
func TestUnsharedFreshConnWakesWaitersToDial(t *testing.T) {
	p, _, key := setup(t, DefaultConfig(), 0)
	first := mustRequest(t, p, key)
	if err := first.Share(1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	chans := []chan result{asyncRequest(p, ctx, key), asyncRequest(p, ctx, key), asyncRequest(p, ctx, key)}
	got := recv(t, chans[0])
	mustRelease(t, got, true)
	if recv(t, chans[1]) != got {
		t.Fatal("the released connection did not go to the oldest waiter")
	}
	if last := recv(t, chans[2]); last == got || last == first {
		t.Fatal("a waiter got a connection in use")
	}
	if st := p.KeyStats(key); st.Dials != 3 || st.Waiting != 0 {
		t.Fatalf("stats %+v, want 3 dials and no waiter", st)
	}
}

// The same when the awaited connection was dialed by Warm: it goes to
// the oldest waiter, and the others dial.
func TestWarmedConnWakesWaitersToDial(t *testing.T) {
	cfg := DefaultConfig()
	var p *Pool
	gate := make(chan struct{})
	var dials atomic.Int32
	cfg.Dial = func(ctx context.Context, key Key, h engine.Handler) (*engine.Conn, error) {
		if dials.Add(1) == 2 {
			<-gate // Warm's dial: held until the waiters have queued
		}
		return p.dialTCP(ctx, key, h)
	}
	p, _, key := setup(t, cfg, 0)
	first := mustRequest(t, p, key)
	if err := first.Share(1); err != nil {
		t.Fatal(err)
	}
	warmed := make(chan error, 1)
	go func() {
		_, err := p.Warm(context.Background(), key, 2)
		warmed <- err
	}()
	waitFor(t, "Warm's dial", func() bool { return dials.Load() == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	chans := []chan result{asyncRequest(p, ctx, key), asyncRequest(p, ctx, key)}
	waitFor(t, "two waiters", func() bool { return p.KeyStats(key).Waiting == 2 })
	close(gate)
	if err := <-warmed; err != nil {
		t.Fatal("warm:", err)
	}
	got := recv(t, chans[0])
	if last := recv(t, chans[1]); last == got || last == first {
		t.Fatal("a waiter got a connection in use")
	}
	if st := p.KeyStats(key); st.Dials != 3 || st.Waiting != 0 {
		t.Fatalf("stats %+v, want 3 dials and no waiter", st)
	}
}
