package testkit

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// conn stands for a connection type; the Recorder never looks into it.
type conn struct{ name string }

func TestRecorderRecords(t *testing.T) {
	r := NewRecorder[*conn]()
	c := &conn{"c"}
	var hooked []string
	r.OpenHook = func(got *conn) { hooked = append(hooked, "open "+got.name) }
	r.DataHook = func(got *conn, b []byte) { hooked = append(hooked, "data "+string(b)) }
	if r.Opened() || r.Err() != nil {
		t.Fatal("a new recorder has seen events")
	}
	r.OnOpen(c)
	r.WaitOpen(t)
	buf := []byte("hello")
	r.OnData(c, buf)
	copy(buf, "XXXXX") // the loop reuses its read buffer
	r.OnData(c, []byte(" world"))
	r.OnWritten(c, 5)
	if got := string(r.WaitData(t, 11)); got != "hello world" {
		t.Fatalf("recorded %q", got)
	}
	if b, ok := r.Take(6); !ok || string(b) != "hello " {
		t.Fatalf("Take(6) = %q, %v", b, ok)
	}
	if _, ok := r.Take(6); ok {
		t.Fatal("Take(6) of 5 bytes succeeded")
	}
	if got := string(r.Bytes()); got != "world" {
		t.Fatalf("left after Take: %q", got)
	}
	select {
	case <-r.Closed():
		t.Fatal("closed before OnClose")
	default:
	}
	why := errors.New("why")
	r.OnClose(c, why)
	<-r.Closed()
	if err := r.WaitClose(t); err != why || r.Err() != why {
		t.Fatalf("close reason %v", err)
	}
	if strings.Join(hooked, "|") != "open c|data hello|data  world" {
		t.Fatalf("hooks saw %q", hooked)
	}
}

func TestRecorderReportsBrokenContracts(t *testing.T) {
	// Closed without opening: WaitOpen fails at once.
	report, fatal := runFake(t, func(tb testing.TB) {
		r := NewRecorder[*conn]()
		r.OnClose(nil, errors.New("refused"))
		r.WaitOpen(tb)
	})
	if !fatal || !strings.Contains(report, "closed before open: refused") {
		t.Errorf("WaitOpen after a close without open: %q", report)
	}
	// Opened then closed before the wait: both are seen.
	report, _ = runFake(t, func(tb testing.TB) {
		r := NewRecorder[*conn]()
		r.OnOpen(nil)
		r.OnClose(nil, nil)
		r.WaitOpen(tb)
	})
	if report != "" {
		t.Errorf("WaitOpen after open and close: %q", report)
	}
	// OnClose twice.
	report, _ = runFake(t, func(tb testing.TB) {
		r := NewRecorder[*conn]()
		r.OnClose(nil, errors.New("first"))
		r.OnClose(nil, errors.New("second"))
		if err := r.WaitClose(tb); err.Error() != "first" {
			tb.Errorf("reason %v", err)
		}
	})
	if report != "OnClose ran 2 times" {
		t.Errorf("a second OnClose: %q", report)
	}
}

func TestWaitForGivesUp(t *testing.T) {
	report, fatal := runFake(t, func(tb testing.TB) {
		waitFor(tb, "never", func() bool { return false }, 50*time.Millisecond)
	})
	if !fatal || report != "timed out waiting for never" {
		t.Fatalf("WaitFor on a false condition: %q", report)
	}
}
