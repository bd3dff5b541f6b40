package testkit

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds every wait in the kit: generous, as the tests run
// under -race on a busy 2-core machine, and a wait that ends early is
// decided by the event, not by the clock.
const waitTimeout = 10 * time.Second

// Recorder records one connection's events for a test to wait on: whether
// it opened, the bytes it received, and why it closed.
//
// Its methods have the shape of engine.Handler's with C as the connection
// type, so a *Recorder[*engine.Conn] is an engine.Handler. The type
// parameter keeps this package free of egress imports, so that engine's
// own tests (package engine) can use it without an import cycle.
//
// A Recorder is for one connection. Its state only moves forward: once
// opened it stays opened, once closed it stays closed.
type Recorder[C any] struct {
	// OpenHook and DataHook, set before the connection is dialled, run on
	// the loop at each open (before it is signalled) and after each read
	// (once the bytes are recorded): to write a greeting, say, or an
	// answer.
	OpenHook func(c C)
	DataHook func(c C, b []byte)

	opened    chan struct{}
	closed    chan struct{}
	mu        sync.Mutex
	data      []byte
	err       error
	open      bool
	closes    int
	gotClosed bool
}

// NewRecorder returns a Recorder for a connection yet to be dialled.
func NewRecorder[C any]() *Recorder[C] {
	return &Recorder[C]{opened: make(chan struct{}), closed: make(chan struct{})}
}

// OnOpen records that the connection opened.
func (r *Recorder[C]) OnOpen(c C) {
	if r.OpenHook != nil {
		r.OpenHook(c)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.open {
		r.open = true
		close(r.opened)
	}
}

// OnData appends b, which the caller may reuse, to the bytes received.
func (r *Recorder[C]) OnData(c C, b []byte) {
	r.mu.Lock()
	r.data = append(r.data, b...)
	r.mu.Unlock()
	if r.DataHook != nil {
		r.DataHook(c, b)
	}
}

// OnWritten does nothing.
func (r *Recorder[C]) OnWritten(C, int) {}

// OnClose records why the connection closed. A second call is a broken
// contract (OnClose runs exactly once) that WaitClose reports.
func (r *Recorder[C]) OnClose(_ C, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closes++
	if r.closes == 1 {
		r.err = err
		close(r.closed)
	}
}

// Opened reports whether OnOpen has run.
func (r *Recorder[C]) Opened() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open
}

// Closed returns a channel closed once OnClose has run.
func (r *Recorder[C]) Closed() <-chan struct{} { return r.closed }

// Err returns the reason OnClose gave, or nil before it ran.
func (r *Recorder[C]) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Bytes returns a copy of every byte received so far.
func (r *Recorder[C]) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.data...)
}

// Take removes the first n bytes received and returns them, or returns
// false, removing nothing, if fewer have arrived.
func (r *Recorder[C]) Take(n int) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.data) < n {
		return nil, false
	}
	b := append([]byte(nil), r.data[:n]...)
	r.data = append(r.data[:0], r.data[n:]...)
	return b, true
}

// WaitOpen waits until the connection has opened, failing t if it closed
// without opening or if nothing happens for a long time.
func (r *Recorder[C]) WaitOpen(t testing.TB) {
	t.Helper()
	select {
	case <-r.opened:
	case <-r.closed:
		// OnOpen, if it ran, ran before OnClose: both may be ready.
		select {
		case <-r.opened:
		default:
			t.Fatalf("closed before open: %v", r.Err())
		}
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for OnOpen")
	}
}

// WaitClose waits until the connection has closed and returns the reason,
// failing t if nothing happens for a long time.
func (r *Recorder[C]) WaitClose(t testing.TB) error {
	t.Helper()
	select {
	case <-r.closed:
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for OnClose")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closes > 1 {
		t.Errorf("OnClose ran %d times", r.closes)
	}
	return r.err
}

// WaitData waits until at least n bytes have been received and returns a
// copy of all of them.
func (r *Recorder[C]) WaitData(t testing.TB, n int) []byte {
	t.Helper()
	var b []byte
	WaitFor(t, strconv.Itoa(n)+" received bytes", func() bool {
		b = r.Bytes()
		return len(b) >= n
	})
	return b
}

// WaitFor polls cond until it holds, failing t after a long bounded wait
// that names what was awaited.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitFor(t, what, cond, waitTimeout)
}

func waitFor(t testing.TB, what string, cond func() bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
