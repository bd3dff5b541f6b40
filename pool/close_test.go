package pool

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCloseShutsEverything(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTotalPerKey = 3
	p, srv, key := setup(t, cfg, 0)
	idle1, idle2, out := mustRequest(t, p, key), mustRequest(t, p, key), mustRequest(t, p, key)
	mustRelease(t, idle1, true)
	mustRelease(t, idle2, true)

	srv2 := newServer(t, 0)
	key2 := Key{Addr: srv2.addr()}
	var held []*Conn
	for i := 0; i < 3; i++ {
		held = append(held, mustRequest(t, p, key2))
	}
	waiter := make(chan error, 1)
	go func() {
		_, err := p.Request(context.Background(), key2, nil)
		waiter <- err
	}()
	asyncWaiter := make(chan error, 1)
	p.RequestAsync(context.Background(), key2, nil, func(_ *Conn, err error) { asyncWaiter <- err })
	waitFor(t, "two waiters", func() bool { return p.KeyStats(key2).Waiting == 2 })

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p.Close() // idempotent
	for _, ch := range []chan error{waiter, asyncWaiter} {
		if err := <-ch; !errors.Is(err, ErrPoolClosed) {
			t.Fatalf("waiter: %v, want ErrPoolClosed", err)
		}
	}
	if _, err := p.Request(context.Background(), key, nil); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("Request after Close: %v", err)
	}
	var aerr error
	p.RequestAsync(context.Background(), key, nil, func(_ *Conn, err error) { aerr = err })
	if !errors.Is(aerr, ErrPoolClosed) {
		t.Fatalf("RequestAsync after Close: %v", aerr)
	}
	if _, err := p.Warm(context.Background(), key, 1); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("Warm after Close: %v", err)
	}
	waitFor(t, "the idle connections closed", func() bool { _, c := srv.stats(); return c == 2 })

	// Connections in use still work, and close when released.
	roundTrip(t, out, "still mine")
	mustRelease(t, out, true)
	for _, pc := range held {
		mustRelease(t, pc, true)
	}
	waitFor(t, "every connection closed", func() bool {
		_, c1 := srv.stats()
		_, c2 := srv2.stats()
		return c1 == 3 && c2 == 3 && p.Stats().Open == 0
	})
}

func TestEngineClosedUnderPool(t *testing.T) {
	p, _, key := setup(t, DefaultConfig(), 0)
	mustRelease(t, mustRequest(t, p, key), true)
	out := mustRequest(t, p, key)
	mustRelease(t, mustRequest(t, p, key), true)
	p.e.Close()
	waitFor(t, "the idle connection dropped", func() bool { return p.Stats().Idle == 0 })
	if _, err := p.Request(context.Background(), key, nil); err == nil {
		t.Fatal("Request on a closed engine succeeded")
	}
	mustRelease(t, out, true)
	if st := p.Stats(); st.Open != 0 {
		t.Fatalf("stats %+v", st)
	}
	p.Close() // after the engine: must not panic
}

func TestConcurrentRequestRelease(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTotalPerKey = 4
	cfg.IdleTimeout = 20 * time.Millisecond // the cleaner runs meanwhile
	p, _, key := setup(t, cfg, 0)
	srv2 := newServer(t, 30*time.Millisecond) // and this one drops idle connections
	keys := []Key{key, {Addr: srv2.addr()}}

	const workers, iters = 16, 150
	var wg sync.WaitGroup
	var maxOpen atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < iters; i++ {
				k := keys[rng.IntN(len(keys))]
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+rng.IntN(20))*time.Millisecond)
				var pc *Conn
				var err error
				if rng.IntN(2) == 0 {
					pc, err = p.Request(ctx, k, nil)
				} else {
					done := make(chan struct{})
					p.RequestAsync(ctx, k, nil, func(c *Conn, e error) { pc, err = c, e; close(done) })
					<-done
				}
				cancel()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("request: %v", err)
						return
					}
					continue
				}
				if o := int64(p.KeyStats(k).Open); o > maxOpen.Load() {
					maxOpen.Store(o)
				}
				if rng.IntN(4) == 0 {
					pc.Engine().Write([]byte("x")) // echoed back to a nil handler
				}
				if rng.IntN(50) == 0 {
					time.Sleep(time.Millisecond)
				}
				if err := p.Release(pc, rng.IntN(10) != 0); err != nil {
					t.Errorf("release: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	for _, k := range keys {
		st := p.KeyStats(k)
		if st.InUse != 0 || st.Waiting != 0 || st.Dialing != 0 {
			t.Fatalf("%v: %+v", k, st)
		}
	}
	if m := maxOpen.Load(); m > 4 {
		t.Fatalf("saw %d connections for a key, limit 4", m)
	}
	t.Logf("%+v", p.Stats())
}
