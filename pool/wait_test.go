package pool

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
)

func TestWaitQueueIsFIFO(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTotalPerKey = 1
	p, _, key := setup(t, cfg, 0)
	held := mustRequest(t, p, key)

	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	served := func(i int, pc *Conn, err error) {
		defer wg.Done()
		if err != nil {
			t.Errorf("waiter %d: %v", i, err)
			return
		}
		if pc != held || !pc.Reused() {
			t.Errorf("waiter %d: not the released connection (reused %v)", i, pc.Reused())
		}
		mu.Lock()
		order = append(order, i)
		mu.Unlock()
		pc.Release(true) // to the next waiter
	}
	const n = 4
	for i := 0; i < n; i++ {
		wg.Add(1)
		if i%2 == 1 { // mix the async waiters in: no goroutine of theirs
			p.RequestAsync(context.Background(), key, nil, func(pc *Conn, err error) { served(i, pc, err) })
		} else {
			go func() {
				pc, err := p.Request(context.Background(), key, nil)
				served(i, pc, err)
			}()
		}
		waitFor(t, "the request to queue", func() bool { return p.KeyStats(key).Waiting == i+1 })
	}
	mustRelease(t, held, true)
	wg.Wait()
	for i, v := range order {
		if v != i {
			t.Fatalf("served in order %v, want FIFO", order)
		}
	}
	st := p.KeyStats(key)
	if st.Dials != 1 || st.Waits != n || st.Reuses != n || st.Waiting != 0 || st.Idle != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWaitTimeout(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTotalPerKey = 1
	p, _, key := setup(t, cfg, 0)
	held := mustRequest(t, p, key)

	// Waited is checked against bounds that hold however slow the machine:
	// the request was queued no later than queued (seen in the stats) and
	// failed no earlier than the deadline, so it waited at least
	// deadline-queued; and no longer than the whole call took.
	const timeout = 50 * time.Millisecond
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := p.Request(ctx, key, nil)
		errc <- err
	}()
	waitFor(t, "the request to queue", func() bool { return p.KeyStats(key).Waiting == 1 || len(errc) == 1 })
	queued := time.Now()
	var err error
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("the wait outlived its deadline by 10 s")
	}
	took := time.Since(start)
	if !errors.Is(err, ErrPoolWaitTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a pool wait timeout", err)
	}
	if took < timeout {
		t.Fatalf("the wait timed out after %v, before its %v deadline", took, timeout)
	}
	var we *WaitError
	if !errors.As(err, &we) || we.Key != key || we.Limit != 1 || !we.Timeout() {
		t.Fatalf("WaitError %+v", we)
	}
	if low := start.Add(timeout).Sub(queued); we.Waited < low || we.Waited <= 0 || we.Waited > took {
		t.Fatalf("Waited %v; the request was queued at least %v before its deadline, and the call took %v", we.Waited, low, took)
	}
	if !strings.Contains(err.Error(), key.Addr) {
		t.Fatalf("error does not name the key: %v", err)
	}

	// A cancelled async waiter: the context's error, not a timeout.
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	p.RequestAsync(ctx2, key, nil, func(_ *Conn, err error) { done <- err })
	waitFor(t, "the async request to queue", func() bool { return p.KeyStats(key).Waiting == 1 })
	cancel2()
	err = <-done
	if !errors.As(err, &we) || !errors.Is(err, context.Canceled) || errors.Is(err, ErrPoolWaitTimeout) {
		t.Fatalf("cancelled wait: %v", err)
	}
	st := p.KeyStats(key)
	if st.Waits != 2 || st.WaitTimeouts != 2 || st.Waiting != 0 || st.Open != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The queue is empty: the release goes to the idle stack.
	mustRelease(t, held, true)
	if st := p.KeyStats(key); st.Idle != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestClosedConnLetsWaiterDial(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTotalPerKey = 1
	p, _, key := setup(t, cfg, 0)
	held := mustRequest(t, p, key)
	got := make(chan *Conn, 1)
	go func() {
		pc, err := p.Request(context.Background(), key, nil)
		if err != nil {
			t.Error(err)
		}
		got <- pc
	}()
	waitFor(t, "the request to queue", func() bool { return p.KeyStats(key).Waiting == 1 })
	mustRelease(t, held, false) // closed: its slot lets the waiter dial
	pc := <-got
	if pc == nil {
		return
	}
	if pc == held || pc.Reused() {
		t.Fatal("the waiter should have dialed a new connection")
	}
	roundTrip(t, pc, "new")
	mustRelease(t, pc, true)
	if st := p.KeyStats(key); st.Dials != 2 || st.Discarded != 1 || st.Open != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWaiterSkipsConnectionThatDiedOnHandoff(t *testing.T) {
	// A connection released to a waiter but closed by the peer before the
	// waiter took it must not be handed out: the waiter dials instead.
	cfg := DefaultConfig()
	cfg.MaxTotalPerKey = 1
	p, srv, key := setup(t, cfg, 0)
	held := mustRequest(t, p, key)
	r := &request{kp: p.keys[key], ctx: context.Background(), h: noHandler{}, ch: make(chan result, 1)}
	p.mu.Lock()
	if p.admitLocked(r, false) {
		t.Fatal("expected to queue")
	}
	p.mu.Unlock()
	// Release hands the connection to r, which is not reading its channel
	// yet; then the server closes it.
	addr := localAddr(t, held)
	srv.conn(addr)
	mustRelease(t, held, true)
	srv.conn(addr).Close()
	waitFor(t, "the pool to see the close", func() bool { return p.KeyStats(key).Open == 0 })
	pc, err := r.wait()
	if err != nil {
		t.Fatal(err)
	}
	if pc == held {
		t.Fatal("a connection closed during handoff was handed out")
	}
	roundTrip(t, pc, "fresh")
	mustRelease(t, pc, true)
}

// TestRetriedHandoffRunsOnItsLoop: a connection released to a
// RequestAsync waiter that dies before the waiter takes it is replaced by
// an idle one, and the callback runs on that one's loop, as RequestAsync
// promises, not on the loop of the one that died: a caller may act on the
// connection from its callback as its loop would.
func TestRetriedHandoffRunsOnItsLoop(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTotalPerKey = 2
	p, srv, key := setup(t, cfg, 0)
	a, b := mustRequest(t, p, key), mustRequest(t, p, key)
	la, lb := a.Engine().Loop(), b.Engine().Loop()
	if la == lb {
		t.Fatal("both connections on one loop")
	}
	serverA := srv.conn(localAddr(t, a))
	loopB := make(chan uint64, 1)
	lb.Post(func() { loopB <- goroutineID() })

	type answer struct {
		pc  *Conn
		err error
		g   uint64
	}
	got := make(chan answer, 1)
	p.RequestAsync(context.Background(), key, nil, func(pc *Conn, err error) { got <- answer{pc, err, goroutineID()} })
	waitFor(t, "the request to queue", func() bool { return p.Stats().Waiting == 1 })

	// In one pass of a's loop: a's last bytes arrive and a is released,
	// to the waiter (by a task posted behind the pass); b is released and
	// goes idle, since nobody waits any more; then a's end of stream
	// closes it, so that the posted task finds a dead and takes b.
	released := make(chan error, 2)
	a.SetHandler(&engine.HandlerFuncs{Data: func(*engine.Conn, []byte) {
		released <- a.Release(true)
		released <- b.Release(true)
	}})
	blocked, unblock := make(chan struct{}), make(chan struct{})
	la.Post(func() { close(blocked); <-unblock })
	<-blocked
	serverA.Write([]byte("x"))
	serverA.Close()
	close(unblock)

	for range 2 {
		if err := <-released; err != nil {
			t.Fatal("release:", err)
		}
	}
	var ans answer
	select {
	case ans = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
	}
	if ans.err != nil || ans.pc != b {
		t.Fatalf("answer %v, %v; want b (a died)", ans.pc, ans.err)
	}
	if g := <-loopB; ans.g != g {
		t.Fatalf("callback ran on goroutine %d; b's loop is goroutine %d", ans.g, g)
	}
	mustRelease(t, b, true)
}

// goroutineID is the running goroutine's number, from its stack header.
func goroutineID() uint64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	id, _ := strconv.ParseUint(f[1], 10, 64)
	return id
}
