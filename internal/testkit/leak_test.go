package testkit

import (
	"encoding/binary"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// watched runs body as a test under a leak check with a short bound, and
// returns what the check reported.
func watched(t *testing.T, body func(tb testing.TB)) string {
	t.Helper()
	report, _ := runFake(t, func(tb testing.TB) {
		s := TakeSnapshot()
		tb.Cleanup(func() { s.check(tb, 300*time.Millisecond) })
		body(tb)
	})
	return report
}

// leakyWorker blocks until release is closed; its name is looked for in
// the leak report.
func leakyWorker(release chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	<-release
}

func TestCheckLeaksReportsAGoroutine(t *testing.T) {
	CheckLeaks(t)
	release := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release)
	report := watched(t, func(testing.TB) {
		wg.Add(1)
		go leakyWorker(release, &wg)
	})
	if !strings.Contains(report, "leak: 1 goroutines") || !strings.Contains(report, "testkit.leakyWorker") {
		t.Fatalf("a goroutine left running was not reported with its stack:\n%s", report)
	}
}

func TestCheckLeaksReportsASocket(t *testing.T) {
	CheckLeaks(t)
	var ln net.Listener
	report := watched(t, func(tb testing.TB) {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			tb.Fatal(err)
		}
	})
	defer ln.Close()
	if runtime.GOOS != "linux" {
		t.Skip("descriptors are read from Linux's /proc")
	}
	if !strings.Contains(report, "and 1 sockets") || !strings.Contains(report, "socket:[") ||
		!strings.Contains(report, ln.Addr().String()+" -> 0.0.0.0:0 LISTEN") {
		t.Fatalf("a listener left open was not reported with its address %s:\n%s", ln.Addr(), report)
	}
}

func TestCheckLeaksReportsAConnection(t *testing.T) {
	CheckLeaks(t)
	srv := NewServer(t, nil)
	var c net.Conn
	report := watched(t, func(tb testing.TB) {
		var err error
		if c, err = net.Dial("tcp", srv.Addr()); err != nil {
			tb.Fatal(err)
		}
	})
	defer c.Close()
	if runtime.GOOS != "linux" {
		t.Skip("descriptors are read from Linux's /proc")
	}
	if !strings.Contains(report, c.LocalAddr().String()+" -> "+srv.Addr()+" ESTABLISHED") {
		t.Fatalf("a client connection left open was not reported as %s -> %s:\n%s", c.LocalAddr(), srv.Addr(), report)
	}
}

// TestCheckLeaksNotFooledBySwap: a goroutine that was running before the
// check and ends during the test does not make room for one that leaks,
// as it would if goroutines were only counted.
func TestCheckLeaksNotFooledBySwap(t *testing.T) {
	CheckLeaks(t)
	var wg sync.WaitGroup
	defer wg.Wait()
	old, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	wg.Add(1)
	go func() { defer wg.Done(); <-old }()
	report := watched(t, func(testing.TB) {
		wg.Add(1)
		go leakyWorker(release, &wg)
		close(old)
	})
	if !strings.Contains(report, "testkit.leakyWorker") {
		t.Fatalf("the leaked goroutine hid behind one that ended:\n%s", report)
	}
}

// TestCheckLeaksWaitsForStragglers: what a test's cleanup shuts down
// asynchronously may take a moment to go, and that is no leak.
func TestCheckLeaksWaitsForStragglers(t *testing.T) {
	CheckLeaks(t)
	report := watched(t, func(tb testing.TB) {
		srv := NewServer(tb, Echo)
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			tb.Fatal(err)
		}
		release := make(chan struct{})
		go func() {
			<-release
			c.Close()
		}()
		tb.Cleanup(func() { close(release) })
	})
	if report != "" {
		t.Fatalf("a clean test was reported:\n%s", report)
	}
}

func TestDescriptors(t *testing.T) {
	CheckLeaks(t)
	if runtime.GOOS != "linux" {
		t.Skip("descriptors are read from Linux's /proc")
	}
	n := Descriptors()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if got := Descriptors(); got != n+1 {
		t.Errorf("with one more listener: %d descriptors, want %d", got, n+1)
	}
	ln.Close()
	if got := Descriptors(); got != n {
		t.Errorf("after closing it: %d descriptors, want %d", got, n)
	}
}

func TestProcAddr(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the samples are as a little-endian kernel prints them")
	}
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000000000000000000001000000:0050": "[::1]:80",
		"garbage":                               "garbage",
	} {
		if got := procAddr(in); got != want {
			t.Errorf("procAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSnapshotCheck: a check part way through a test sees what an
// operation left behind while the test still holds its servers.
func TestSnapshotCheck(t *testing.T) {
	CheckLeaks(t)
	srv := NewServer(t, Echo)
	var c net.Conn
	report, _ := runFake(t, func(tb testing.TB) {
		s := TakeSnapshot()
		var err error
		if c, err = net.Dial("tcp", srv.Addr()); err != nil {
			tb.Fatal(err)
		}
		s.check(tb, 100*time.Millisecond)
	})
	if !strings.Contains(report, c.LocalAddr().String()+" -> "+srv.Addr()) && runtime.GOOS == "linux" {
		t.Errorf("a connection left open was not reported:\n%s", report)
	}
	if !strings.Contains(report, "testkit.Echo") {
		t.Errorf("the server goroutine serving it was not reported:\n%s", report)
	}
	c.Close()
	report, _ = runFake(t, func(tb testing.TB) {
		s := TakeSnapshot()
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			tb.Fatal(err)
		}
		c.Close()
		s.Check(tb)
	})
	if report != "" {
		t.Errorf("a connection closed was reported:\n%s", report)
	}
}
