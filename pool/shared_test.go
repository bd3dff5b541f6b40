package pool

import (
	"context"
	"errors"
	"testing"
	"time"
)

// asyncRequest asks for a connection without blocking and returns the
// channel its answer arrives on.
func asyncRequest(p *Pool, ctx context.Context, key Key) chan result {
	ch := make(chan result, 1)
	p.RequestAsync(ctx, key, nil, func(pc *Conn, err error) { ch <- result{pc: pc, err: err} })
	return ch
}

func recv(t *testing.T, ch chan result) *Conn {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal("request:", r.err)
		}
		return r.pc
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
	return nil
}

func pending(t *testing.T, ch chan result) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("answered early: %v %v", r.pc, r.err)
	default:
	}
}

// A shared connection serves streams up to its limit before anything is
// dialed; past the limit the pool dials another connection.
func TestShareStreamsUpToLimit(t *testing.T) {
	p, srv, key := setup(t, DefaultConfig(), 0)
	pc := mustRequest(t, p, key)
	if err := pc.Share(3); err != nil {
		t.Fatal(err)
	}
	if err := pc.Share(3); !errors.Is(err, ErrNotInUse) {
		t.Fatalf("second Share: %v, want ErrNotInUse", err)
	}
	s1, s2 := mustRequest(t, p, key), mustRequest(t, p, key)
	if s1 != pc || s2 != pc || !s1.Shared() || !s1.Reused() {
		t.Fatal("streams did not come from the shared connection")
	}
	st := p.KeyStats(key)
	if st.Multiplexed != 1 || st.StreamsInUse != 3 || st.Streams != 2 || st.Dials != 1 || st.InUse != 1 {
		t.Fatalf("stats %+v", st)
	}
	other := mustRequest(t, p, key) // at the limit: a dial
	if other == pc || other.Shared() {
		t.Fatal("a fourth request got a stream over the limit")
	}
	mustRelease(t, other, true)
	if got := p.KeyStats(key).Dials; got != 2 {
		t.Fatalf("dials %d, want 2", got)
	}
	pc.ReleaseStream()
	if pc.Streams() != 2 {
		t.Fatalf("streams %d after a release, want 2", pc.Streams())
	}
	// The freed stream is preferred over the idle connection.
	if s3 := mustRequest(t, p, key); s3 != pc {
		t.Fatal("a free stream was not taken first")
	}
	for range 3 {
		pc.ReleaseStream()
	}
	pc.ReleaseStream() // one too many: ignored
	if st := p.KeyStats(key); st.StreamsInUse != 0 {
		t.Fatalf("streams in use %d", st.StreamsInUse)
	}
	mustRelease(t, pc, true) // a shared connection goes back only to close
	waitFor(t, "the shared connection to close", func() bool { _, closed := srv.stats(); return closed >= 1 })
	waitFor(t, "the pool to forget it", func() bool { return p.KeyStats(key).Open == 1 })
	if st := p.KeyStats(key); st.Multiplexed != 0 || st.Idle != 1 {
		t.Fatalf("after release: %+v", st)
	}
}

// Requests waiting at MaxTotalPerKey get streams as soon as a connection
// is shared, and as streams are given back or the limit rises.
func TestShareServesWaiters(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTotalPerKey = 1
	p, _, key := setup(t, cfg, 0)
	pc := mustRequest(t, p, key)
	ctx := context.Background()
	w1, w2, w3 := asyncRequest(p, ctx, key), asyncRequest(p, ctx, key), asyncRequest(p, ctx, key)
	pending(t, w1)
	if err := pc.Share(3); err != nil {
		t.Fatal(err)
	}
	if recv(t, w1) != pc || recv(t, w2) != pc {
		t.Fatal("waiters were not given streams of the shared connection")
	}
	pending(t, w3) // the limit is 3: the sharer's and two waiters'
	pc.ReleaseStream()
	if recv(t, w3) != pc {
		t.Fatal("a released stream did not go to the waiter")
	}
	w4 := asyncRequest(p, ctx, key)
	pending(t, w4)
	pc.SetStreamLimit(4)
	if recv(t, w4) != pc {
		t.Fatal("a raised limit did not serve the waiter")
	}
	if st := p.KeyStats(key); st.StreamsInUse != 4 || st.Waiting != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A retired connection (GOAWAY) takes no new stream; its streams carry on
// and the next request dials.
func TestRetiredConnectionTakesNoStreams(t *testing.T) {
	p, _, key := setup(t, DefaultConfig(), 0)
	pc := mustRequest(t, p, key)
	if err := pc.Share(100); err != nil {
		t.Fatal(err)
	}
	s := mustRequest(t, p, key)
	if s != pc {
		t.Fatal("no stream")
	}
	pc.Retire()
	next := mustRequest(t, p, key)
	if next == pc {
		t.Fatal("a retired connection gave a stream")
	}
	pc.ReleaseStream()
	if pc.Streams() != 1 {
		t.Fatalf("streams %d", pc.Streams())
	}
	mustRelease(t, next, false)
	mustRelease(t, pc, false)
	if st := p.KeyStats(key); st.Multiplexed != 0 || st.StreamsInUse != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Once a key is known to multiplex, a burst of requests while its
// connection is being dialed waits for that dial instead of dialing one
// connection per request.
func TestDialsCoalesceForMultiplexedKey(t *testing.T) {
	p, _, key := setup(t, DefaultConfig(), 0)
	first := mustRequest(t, p, key)
	if err := first.Share(1); err != nil {
		t.Fatal(err)
	}
	// The key is known to multiplex; its only connection is full. The
	// next request dials, and the ones after it wait for that dial.
	ctx := context.Background()
	var chans []chan result
	for range 5 {
		chans = append(chans, asyncRequest(p, ctx, key))
	}
	got := recv(t, chans[0])
	if got == first {
		t.Fatal("a full connection gave a stream")
	}
	if err := got.Share(10); err != nil {
		t.Fatal(err)
	}
	for _, ch := range chans[1:] {
		if recv(t, ch) != got {
			t.Fatal("a waiter did not get a stream of the new connection")
		}
	}
	if d := p.KeyStats(key).Dials; d != 2 {
		t.Fatalf("%d dials for a burst on a multiplexed key, want 2", d)
	}
}

// WaitForStreams: at the stream limit, requests wait for a stream rather
// than open another connection, and give up with their context.
func TestWaitForStreams(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WaitForStreams = true
	p, _, key := setup(t, cfg, 0)
	pc := mustRequest(t, p, key)
	if err := pc.Share(1); err != nil {
		t.Fatal(err)
	}
	w := asyncRequest(p, context.Background(), key)
	pending(t, w)
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := asyncRequest(p, ctx, key)
	cancel()
	select {
	case r := <-gaveUp:
		var we *WaitError
		if !errors.As(r.err, &we) {
			t.Fatalf("cancelled waiter: %v, want a *WaitError", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled waiter was not answered")
	}
	pc.ReleaseStream()
	if recv(t, w) != pc {
		t.Fatal("the waiter did not get the freed stream")
	}
	if d := p.KeyStats(key).Dials; d != 1 {
		t.Fatalf("%d dials, want 1", d)
	}
}

// When the multiplexed connection that waiters were queued behind goes
// away, one dial replaces it for all of them, not one dial each.
func TestWaitersBehindClosedSharedConnDialOnce(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WaitForStreams = true
	p, _, key := setup(t, cfg, 0)
	pc := mustRequest(t, p, key)
	if err := pc.Share(1); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ws := []chan result{asyncRequest(p, ctx, key), asyncRequest(p, ctx, key), asyncRequest(p, ctx, key)}
	for _, w := range ws {
		pending(t, w)
	}
	pc.Retire() // a GOAWAY
	mustRelease(t, pc, false)
	next := recv(t, ws[0])
	if next == pc {
		t.Fatal("a waiter got the retired connection")
	}
	if err := next.Share(10); err != nil {
		t.Fatal(err)
	}
	for _, w := range ws[1:] {
		if recv(t, w) != next {
			t.Fatal("a waiter did not get a stream of the replacement")
		}
	}
	if d := p.KeyStats(key).Dials; d != 2 {
		t.Fatalf("%d dials, want 2: the first connection and one replacement", d)
	}
}

// A shared connection that reaches MaxAge takes no new streams; it stays
// open for those in use and its sharer's handler, and it closes when the
// sharer releases it, as any connection in use past its age.
func TestMaxAgeShared(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxAge = 100 * time.Millisecond
	p, _, key := setup(t, cfg, 0)
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc, err := p.Request(ctx, key, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Share(10); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the shared connection to age out", func() bool { return p.KeyStats(key).Expired == 1 })
	if st := p.KeyStats(key); st.Idle != 0 || st.InUse != 1 || st.Multiplexed != 1 || st.Open != 1 {
		t.Fatalf("stats after MaxAge %+v", st)
	}
	select {
	case <-rec.Closed():
		t.Fatalf("closed under its sharer: %v", rec.Err())
	default:
	}
	roundTrip(t, pc, "still in use")
	other := mustRequest(t, p, key)
	if other == pc {
		t.Fatal("a stream of a connection past MaxAge was handed out")
	}
	mustRelease(t, pc, true)
	waitFor(t, "the aged connection to close", func() bool { return p.Stats().Open == 1 })

	// Shared only once past MaxAge: it serves no stream either.
	waitFor(t, "the second connection to pass MaxAge", func() bool { return time.Since(other.Created()) > cfg.MaxAge })
	if err := other.Share(10); err != nil {
		t.Fatal(err)
	}
	if third := mustRequest(t, p, key); third == other {
		t.Fatal("a connection shared past MaxAge served a stream")
	} else {
		mustRelease(t, third, false)
	}
	mustRelease(t, other, true)
	waitFor(t, "Open 0", func() bool { return p.Stats().Open == 0 })
	if st := p.KeyStats(key); st.Idle != 0 || st.InUse != 0 || st.Multiplexed != 0 || st.StreamsInUse != 0 {
		t.Fatalf("stats %+v", st)
	}
}
