package pool

import (
	"context"
	"crypto/tls"
	"errors"
	"expvar"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

func TestReuseIsLIFO(t *testing.T) {
	p, srv, key := setup(t, DefaultConfig(), 0)
	a, b, c := mustRequest(t, p, key), mustRequest(t, p, key), mustRequest(t, p, key)
	for _, pc := range []*Conn{a, b, c} {
		if pc.Reused() {
			t.Fatal("a new connection reports Reused")
		}
		roundTrip(t, pc, "hello")
	}
	mustRelease(t, a, true)
	mustRelease(t, b, true)
	mustRelease(t, c, true)
	for i, want := range []*Conn{c, b, a} {
		got := mustRequest(t, p, key)
		if got != want {
			t.Fatalf("checkout %d: got a different connection than the one released %d-th last", i, i+1)
		}
		if !got.Reused() || got.Uses() != 2 || got.IdleTime() <= 0 {
			t.Fatalf("checkout %d: Reused %v Uses %d IdleTime %v", i, got.Reused(), got.Uses(), got.IdleTime())
		}
		roundTrip(t, got, "again")
	}
	st := p.KeyStats(key)
	if st.Dials != 3 || st.Reuses != 3 || st.InUse != 3 || st.Idle != 0 {
		t.Fatalf("stats %+v", st)
	}
	if acc, _ := srv.stats(); acc != 3 {
		t.Fatalf("server accepted %d connections, want 3", acc)
	}
	for _, pc := range []*Conn{a, b, c} {
		mustRelease(t, pc, true)
	}
}

func TestKeysNeverShare(t *testing.T) {
	testkit.CheckLeaks(t)
	srv1, srv2 := newServer(t, 0), newServer(t, 0)
	e, err := engine.New(engine.Config{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	cfg := DefaultConfig()
	// Plain TCP whatever the key says: enough to see that the pool keeps
	// the keys apart.
	cfg.Dial = func(ctx context.Context, k Key, h engine.Handler) (*engine.Conn, error) {
		return e.Dial(ctx, "tcp", k.Addr, h, nil)
	}
	p := New(e, cfg)
	t.Cleanup(func() { p.Close() })

	tlsA := &tls.Config{ServerName: "x", NextProtos: []string{"h2", "http/1.1"}}
	tlsB := &tls.Config{ServerName: "x", NextProtos: []string{"h2", "http/1.1"}} // same content, other identity
	keys := []Key{
		{Network: "tcp", Addr: srv1.addr()},
		{Network: "tcp", Addr: srv2.addr()}, // other port
		KeyFor("tcp", srv1.addr(), tlsA, ""),
		KeyFor("tcp", srv1.addr(), tlsB, ""),
		{Network: "tcp", Addr: srv1.addr(), TLS: tlsA, ALPN: ALPN([]string{"http/1.1"})},
		{Network: "tcp", Addr: srv1.addr(), Proxy: "http://proxy.invalid:3128"},
	}
	first := map[Key]*Conn{}
	for _, k := range keys {
		pc := mustRequest(t, p, k)
		if pc.Reused() {
			t.Fatalf("key %v got a pooled connection of another key", k)
		}
		if pc.Key() != k {
			t.Fatalf("Key() = %v, want %v", pc.Key(), k)
		}
		first[k] = pc
		mustRelease(t, pc, true)
	}
	for _, k := range keys {
		pc := mustRequest(t, p, k)
		if pc != first[k] {
			t.Fatalf("key %v did not get back its own connection", k)
		}
		mustRelease(t, pc, true)
	}
	if st := p.Stats(); st.Dials != int64(len(keys)) || st.Reuses != int64(len(keys)) {
		t.Fatalf("stats %+v", st)
	}
	if got := len(p.StatsByKey()); got != len(keys) {
		t.Fatalf("%d keys in StatsByKey, want %d", got, len(keys))
	}
}

func TestKeyHelpers(t *testing.T) {
	if got := ALPN([]string{"h2", "http/1.1"}); got != "h2,http/1.1" {
		t.Errorf("ALPN = %q", got)
	}
	if ALPN([]string{"a,b"}) == ALPN([]string{"a", "b"}) {
		t.Error("ALPN lists that differ give the same string")
	}
	if ALPN(nil) != "" || KeyFor("tcp", "h:1", nil, "").ALPN != "" {
		t.Error("no ALPN expected without protocols")
	}
	cfg := &tls.Config{NextProtos: []string{"h2"}}
	k := KeyFor("tcp", "example.com:443", cfg, "http://p:1")
	if k.ALPN != "h2" || k.TLS != cfg {
		t.Errorf("KeyFor = %+v", k)
	}
	if s := k.String(); !strings.Contains(s, "example.com:443") || !strings.Contains(s, "alpn=h2") || !strings.Contains(s, "proxy=http://p:1") {
		t.Errorf("String = %q", s)
	}
}

func TestDefaultDialRefusesTLSAndProxy(t *testing.T) {
	p, _, key := setup(t, DefaultConfig(), 0)
	for _, k := range []Key{KeyFor("tcp", key.Addr, &tls.Config{}, ""), {Addr: key.Addr, Proxy: "http://p:1"}} {
		if _, err := p.Request(context.Background(), k, nil); !errors.Is(err, ErrNeedDialer) {
			t.Fatalf("key %v: err %v, want ErrNeedDialer", k, err)
		}
	}
	if st := p.Stats(); st.Open != 0 || st.DialFailures != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMaxIdleZeroClosesOnRelease(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxIdlePerKey = 0
	p, srv, key := setup(t, cfg, 0)
	for i := 0; i < 2; i++ {
		pc := mustRequest(t, p, key)
		if pc.Reused() {
			t.Fatal("got a reused connection with MaxIdlePerKey 0")
		}
		roundTrip(t, pc, "x")
		mustRelease(t, pc, true)
		waitFor(t, "the server to see the close", func() bool { _, c := srv.stats(); return c == i+1 })
	}
	st := p.KeyStats(key)
	if st.Dials != 2 || st.Discarded != 2 || st.Idle != 0 || st.Reuses != 0 {
		t.Fatalf("stats %+v", st)
	}
	waitFor(t, "Open 0", func() bool { return p.Stats().Open == 0 })
}

func TestMaxIdlePerKey(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxIdlePerKey = 2
	p, _, key := setup(t, cfg, 0)
	a, b, c := mustRequest(t, p, key), mustRequest(t, p, key), mustRequest(t, p, key)
	mustRelease(t, a, true)
	mustRelease(t, b, true)
	mustRelease(t, c, true) // no room: closed
	if st := p.KeyStats(key); st.Idle != 2 || st.Discarded != 1 {
		t.Fatalf("stats %+v", st)
	}
	if got := mustRequest(t, p, key); got != b {
		t.Fatal("expected the most recent idle connection kept")
	} else {
		mustRelease(t, got, true)
	}
}

func TestGlobalMaxIdleEvictsOldest(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxIdle = 2
	p, srv1, k1 := setup(t, cfg, 0)
	srv2, srv3 := newServer(t, 0), newServer(t, 0)
	k2, k3 := Key{Addr: srv2.addr()}, Key{Addr: srv3.addr()}
	c1, c2, c3 := mustRequest(t, p, k1), mustRequest(t, p, k2), mustRequest(t, p, k3)
	mustRelease(t, c1, true)
	mustRelease(t, c2, true)
	mustRelease(t, c3, true) // over MaxIdle: c1, idle the longest, goes
	waitFor(t, "the evicted connection closed", func() bool { _, c := srv1.stats(); return c == 1 })
	if st := p.KeyStats(k1); st.Evicted != 1 || st.Idle != 0 {
		t.Fatalf("key 1 stats %+v", st)
	}
	if st := p.Stats(); st.Idle != 2 || st.Evicted != 1 {
		t.Fatalf("stats %+v", st)
	}
	if pc := mustRequest(t, p, k2); pc != c2 {
		t.Fatal("key 2 lost its idle connection")
	} else {
		mustRelease(t, pc, true)
	}
}

func TestDoubleRelease(t *testing.T) {
	p, _, key := setup(t, DefaultConfig(), 0)
	pc := mustRequest(t, p, key)
	mustRelease(t, pc, true)
	if err := p.Release(pc, true); !errors.Is(err, ErrNotInUse) {
		t.Fatalf("second Release: %v", err)
	}
	if err := p.Release(pc, false); !errors.Is(err, ErrNotInUse) {
		t.Fatalf("third Release: %v", err)
	}
	if st := p.Stats(); st.Idle != 1 || st.InUse != 0 || st.Open != 1 {
		t.Fatalf("stats after double release %+v", st)
	}
	if got := mustRequest(t, p, key); got != pc {
		t.Fatal("the idle connection changed")
	} else {
		roundTrip(t, got, "still fine")
		mustRelease(t, got, true)
	}
}

func TestDialFailure(t *testing.T) {
	p, _, _ := setup(t, Config{MaxIdlePerKey: 1, MaxTotalPerKey: 1}, 0)
	key := Key{Addr: testkit.ClosedAddr(t)}
	for i := 0; i < 2; i++ { // the failed dial frees its slot
		_, err := p.Request(context.Background(), key, nil)
		var de *engine.DialError
		if !errors.As(err, &de) || !errors.Is(err, engine.ErrConnectRefused) {
			t.Fatalf("err %v, want a refused *engine.DialError", err)
		}
	}
	if st := p.KeyStats(key); st.DialFailures != 2 || st.Open != 0 || st.Dialing != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHandlerReceivesEventsWhileInUse(t *testing.T) {
	p, srv, key := setup(t, DefaultConfig(), 0)
	rec := newRecorder()
	pc, err := p.Request(context.Background(), key, rec)
	if err != nil {
		t.Fatal(err)
	}
	pc.Engine().Write([]byte("ping"))
	waitFor(t, "the echo", func() bool { s, ok := rec.Take(4); return ok && string(s) == "ping" })
	srv.push(pc, []byte("!")) // not solicited, but the connection is the user's now
	waitFor(t, "the pushed byte", func() bool { s, ok := rec.Take(1); return ok && string(s) == "!" })
	srv.CloseConns()
	select {
	case <-rec.Closed():
		if err := rec.Err(); !errors.Is(err, engine.ErrPeerClosed) && !errors.Is(err, engine.ErrReset) {
			t.Fatalf("OnClose(%v)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the user's handler never saw the close")
	}
	mustRelease(t, pc, true) // closed: not pooled
	if st := p.Stats(); st.Open != 0 || st.Idle != 0 || st.Discarded != 1 || st.UnsolicitedIdle != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSetHandlerAfterClose: a handler installed after the connection's
// OnClose went to the previous one would never hear of the close, so
// SetHandler refuses it and says so; before the close it takes over.
func TestSetHandlerAfterClose(t *testing.T) {
	p, _, key := setup(t, DefaultConfig(), 0)
	first := newRecorder()
	pc, err := p.Request(context.Background(), key, first)
	if err != nil {
		t.Fatal(err)
	}
	second := newRecorder()
	if !pc.SetHandler(second) {
		t.Fatal("SetHandler refused an open, checked-out connection")
	}
	pc.Engine().Close()
	select {
	case <-second.Closed():
	case <-first.Closed():
		t.Fatal("OnClose went to the replaced handler")
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose")
	}
	if pc.SetHandler(newRecorder()) {
		t.Fatal("SetHandler accepted a handler after OnClose was delivered")
	}
	mustRelease(t, pc, false)
	if pc.SetHandler(newRecorder()) {
		t.Fatal("SetHandler accepted a handler on a released connection")
	}
}

func TestRequestAsync(t *testing.T) {
	p, _, key := setup(t, DefaultConfig(), 0)
	got := make(chan *Conn, 1)
	p.RequestAsync(context.Background(), key, nil, func(pc *Conn, err error) {
		if err != nil {
			t.Error(err)
		}
		got <- pc
	})
	pc := <-got
	roundTrip(t, pc, "async")
	mustRelease(t, pc, true)

	inline := false
	p.RequestAsync(context.Background(), key, nil, func(pc2 *Conn, err error) {
		inline = true
		if pc2 != pc || err != nil {
			t.Errorf("idle hit: %v %v", pc2, err)
		}
	})
	if !inline {
		t.Fatal("callback for an idle hit did not run before RequestAsync returned")
	}
	mustRelease(t, pc, true)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var cerr error
	p.RequestAsync(ctx, key, nil, func(_ *Conn, err error) { cerr = err })
	if !errors.Is(cerr, context.Canceled) {
		t.Fatalf("cancelled context: %v", cerr)
	}
}

func TestWarm(t *testing.T) {
	p, srv, key := setup(t, DefaultConfig(), 0)
	n, err := p.Warm(context.Background(), key, 3)
	if n != 3 || err != nil {
		t.Fatalf("Warm = %d, %v", n, err)
	}
	if n, _ := p.Warm(context.Background(), key, 3); n != 0 {
		t.Fatalf("second Warm opened %d", n)
	}
	if st := p.KeyStats(key); st.Idle != 3 || st.Dials != 3 {
		t.Fatalf("stats %+v", st)
	}
	var pcs []*Conn
	for i := 0; i < 3; i++ {
		pc := mustRequest(t, p, key)
		if !pc.Reused() {
			t.Fatal("a warmed connection must count as pooled")
		}
		roundTrip(t, pc, "w")
		pcs = append(pcs, pc)
	}
	for _, pc := range pcs {
		mustRelease(t, pc, true)
	}
	if acc, _ := srv.stats(); acc != 3 {
		t.Fatalf("accepted %d", acc)
	}
	bad := Key{Addr: key.Addr, Proxy: "x"}
	if n, err := p.Warm(context.Background(), bad, 2); n != 0 || !errors.Is(err, ErrNeedDialer) {
		t.Fatalf("Warm of a bad key = %d, %v", n, err)
	}
}

var publishSeq int

func TestPublish(t *testing.T) {
	p, _, key := setup(t, DefaultConfig(), 0)
	mustRelease(t, mustRequest(t, p, key), true)
	publishSeq++ // expvar names live as long as the process: -count=N
	name := fmt.Sprintf("egress_pool_test_%d", publishSeq)
	if err := p.Publish(name); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(name); err == nil {
		t.Fatal("publishing a name twice must fail")
	}
	s := expvar.Get(name).String()
	for _, want := range []string{`"Total"`, `"Requests":1`, `"Dials":1`, key.Addr} {
		if !strings.Contains(s, want) {
			t.Errorf("expvar output lacks %s: %s", want, s)
		}
	}
}

func TestZeroAllocCheckout(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("allocation counts need -short off and no race detector")
	}
	p, _, key := setup(t, DefaultConfig(), 0)
	if n, err := p.Warm(context.Background(), key, 1); n != 1 {
		t.Fatal(err)
	}
	ctx := context.Background()
	allocs := testkit.AllocsPerOp(20, testkit.AllocBatch, func() {
		pc, err := p.Request(ctx, key, nil)
		if err != nil {
			panic(err)
		}
		p.Release(pc, true)
	})
	if allocs != 0 {
		t.Fatalf("Request+Release of an idle connection: %.2f allocations per checkout, want 0", allocs)
	}
}
