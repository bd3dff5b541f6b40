package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resolver"
)

func TestDialWriteEcho(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		srv := testkit.NewServer(t, testkit.Echo)
		e := newEngine(t, be, Config{})
		defer e.Close()
		r := testkit.NewRecorder[*Conn]()
		c, err := e.Dial(context.Background(), "tcp", srv.Addr(), r, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Written before the connect finishes: must be queued and sent.
		if err := c.Write([]byte("hello ")); err != nil {
			t.Fatal(err)
		}
		r.WaitOpen(t)
		c.Write([]byte("world"))
		testkit.WaitFor(t, "echo", func() bool { return string(r.Bytes()) == "hello world" })
		st := c.Stats()
		if st.BytesIn != 11 || st.BytesOut != 11 || st.Queued != 0 {
			t.Fatalf("conn stats %+v", st)
		}
		if c.RemoteAddr().String() != srv.Addr() {
			t.Fatalf("RemoteAddr %v, want %v", c.RemoteAddr(), srv.Addr())
		}
		if la := c.LocalAddr().(*net.TCPAddr); la.Port == 0 {
			t.Fatalf("LocalAddr %v", la)
		}
		c.Close()
		mustIs(t, r.WaitClose(t), ErrLocalClose)
		if err := c.Write([]byte("x")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Write after close: %v", err)
		}
		s := e.Stats()
		if s.Dialed != 1 || s.Closed != 1 || s.Open != 0 || s.BytesIn != 11 || s.BytesOut != 11 {
			t.Fatalf("engine stats %+v", s)
		}
	})
}

// TestEchoManyConnections holds 8,000 connections at once through an
// in-process engine server and checks every echoed byte.
func TestEchoManyConnections(t *testing.T) {
	const conns, rounds, msgLen = 8000, 3, 64
	if lim := raiseFileLimit(t); lim < 2*conns+200 {
		t.Skipf("open-file limit %d too low", lim)
	}
	forEachBackend(t, func(t *testing.T, be Backend) {
		n := conns
		if testing.Short() {
			n = 500
		}
		srvEng := newEngine(t, be, Config{})
		defer srvEng.Close()
		// Several listen addresses spread the client ports over more
		// (address, port) pairs than one ephemeral range holds.
		var addrs []string
		for i := 1; i <= 4; i++ {
			ln, err := srvEng.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i), func(*Conn) Handler {
				return &HandlerFuncs{Data: func(c *Conn, b []byte) { c.Write(b) }}
			}, &ListenConfig{ReusePort: i%2 == 0})
			if err != nil {
				t.Fatal(err)
			}
			addrs = append(addrs, ln.Addr().String())
		}
		cli := newEngine(t, be, Config{})
		defer cli.Close()

		var done, failed atomic.Int64
		var firstErr atomic.Value
		finished := make(chan struct{})
		for i := 0; i < n; i++ {
			msg := bytes.Repeat([]byte{byte('a' + i%26)}, msgLen)
			var got []byte
			round := 0
			h := &HandlerFuncs{
				Open: func(c *Conn) { c.Write(msg) },
				Data: func(c *Conn, b []byte) {
					got = append(got, b...)
					if len(got) < msgLen {
						return
					}
					if !bytes.Equal(got, msg) {
						firstErr.CompareAndSwap(nil, fmt.Errorf("conn %d: got %q", i, got))
					}
					got = got[:0]
					round++
					if round < rounds {
						c.Write(msg)
						return
					}
					if done.Add(1)+failed.Load() == int64(n) {
						close(finished)
					}
				},
				Close: func(c *Conn, err error) {
					if round < rounds {
						firstErr.CompareAndSwap(nil, fmt.Errorf("conn %d closed early: %w", i, err))
						if failed.Add(1)+done.Load() == int64(n) {
							close(finished)
						}
					}
				},
			}
			if _, err := cli.Dial(context.Background(), "tcp", addrs[i%len(addrs)], h, nil); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-finished:
		case <-time.After(60 * time.Second):
			t.Fatalf("timed out: %d done, %d failed of %d", done.Load(), failed.Load(), n)
		}
		if err := firstErr.Load(); err != nil {
			t.Fatal(err)
		}
		if s := cli.Stats(); s.Open != int64(n) || s.Dialed != int64(n) {
			t.Fatalf("client stats %+v, want %d open", s, n)
		}
		testkit.WaitFor(t, "server accepts", func() bool { return srvEng.Stats().Open == int64(n) })
	})
}

func TestConnectRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		addr := testkit.ClosedAddr(t)
		e := newEngine(t, be, Config{})
		defer e.Close()
		r := testkit.NewRecorder[*Conn]()
		if _, err := e.Dial(context.Background(), "tcp", addr, r, nil); err != nil {
			t.Fatal(err)
		}
		err := r.WaitClose(t)
		var de *DialError
		if !errors.As(err, &de) {
			t.Fatalf("want *DialError, got %T %v", err, err)
		}
		mustIs(t, err, ErrConnectRefused)
		mustIs(t, err, syscall.ECONNREFUSED)
		if r.Opened() {
			t.Fatal("OnOpen called for a failed dial")
		}
		if s := e.Stats(); s.DialFails.Refused != 1 || s.Dialing != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// fullBacklogListener returns the address of a listener that never
// accepts and whose queue is full, so a further connect hangs.
func fullBacklogListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	var fillers []net.Conn
	t.Cleanup(func() {
		for _, c := range fillers {
			c.Close()
		}
		syscall.Close(fd)
	})
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr // the queue is full: connects now hang
		}
		fillers = append(fillers, c)
	}
	t.Skip("could not fill the listen queue on this system")
	return ""
}

func TestConnectTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		addr := fullBacklogListener(t)
		e := newEngine(t, be, Config{})
		defer e.Close()
		r := testkit.NewRecorder[*Conn]()
		start := time.Now()
		e.Dial(context.Background(), "tcp", addr, r, &DialOptions{Timeout: 200 * time.Millisecond})
		err := r.WaitClose(t)
		mustIs(t, err, ErrConnectTimeout)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("%v is not a net.Error timeout", err)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Fatalf("timed out after %v, before the 200ms timeout", d)
		}
		if s := e.Stats(); s.DialFails.Timeout != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestDialContextCancel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		addr := fullBacklogListener(t)
		e := newEngine(t, be, Config{})
		defer e.Close()
		r := testkit.NewRecorder[*Conn]()
		ctx, cancel := context.WithCancel(context.Background())
		e.Dial(ctx, "tcp", addr, r, nil)
		time.AfterFunc(50*time.Millisecond, cancel)
		err := r.WaitClose(t)
		mustIs(t, err, context.Canceled)
		if s := e.Stats(); s.DialFails.Canceled != 1 || s.Dialing != 0 {
			t.Fatalf("stats %+v", s)
		}
		// A context already cancelled fails at once.
		r2 := testkit.NewRecorder[*Conn]()
		e.Dial(ctx, "tcp", addr, r2, nil)
		mustIs(t, r2.WaitClose(t), context.Canceled)
	})
}

// fakeResolver answers from a table.
type fakeResolver struct {
	answers map[string][]netip.Addr
	calls   atomic.Int64
}

func (f *fakeResolver) LookupAsync(ctx context.Context, network, host string, cb func([]netip.Addr, error)) {
	f.calls.Add(1)
	if a, ok := f.answers[host]; ok {
		cb(a, nil)
		return
	}
	go cb(nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true})
}

func TestDNSFailure(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		e := newEngine(t, be, Config{Resolver: &fakeResolver{}})
		defer e.Close()
		r := testkit.NewRecorder[*Conn]()
		e.Dial(context.Background(), "tcp", "nosuch.example:80", r, nil)
		err := r.WaitClose(t)
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
			t.Fatalf("want a not-found DNS error, got %v", err)
		}
		var de *DialError
		if !errors.As(err, &de) || de.Address != "nosuch.example:80" {
			t.Fatalf("want *DialError naming the address, got %v", err)
		}
		if s := e.Stats(); s.DialFails.DNS != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// TestDialTriesEveryAddress: the first address refuses, the second answers.
func TestDialTriesEveryAddress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		srv := testkit.NewServer(t, testkit.Echo)
		port := srv.Port()
		res := &fakeResolver{answers: map[string][]netip.Addr{
			"multi.test": {netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")},
		}}
		e := newEngine(t, be, Config{Resolver: res})
		defer e.Close()
		r := testkit.NewRecorder[*Conn]()
		c, _ := e.Dial(context.Background(), "tcp", fmt.Sprintf("multi.test:%d", port), r, nil)
		r.WaitOpen(t)
		if got := c.RemoteAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.1" {
			t.Fatalf("connected to %s", got)
		}
		c.Close()
		r.WaitClose(t)
	})
}

func TestDialLocalhostAndIPv6(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		e := newEngine(t, be, Config{})
		defer e.Close()
		srv := testkit.NewServer(t, testkit.Echo)
		port := srv.Port()
		r := testkit.NewRecorder[*Conn]()
		c, _ := e.Dial(context.Background(), "tcp4", fmt.Sprintf("localhost:%d", port), r, nil)
		r.WaitOpen(t)
		c.Close()
		r.WaitClose(t)

		ln6, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			t.Logf("no IPv6 loopback: %v", err)
			return
		}
		defer ln6.Close()
		go func() {
			if c, err := ln6.Accept(); err == nil {
				testkit.Echo(c)
			}
		}()
		r6 := testkit.NewRecorder[*Conn]()
		c6, _ := e.Dial(context.Background(), "tcp", ln6.Addr().String(), r6, nil)
		r6.WaitOpen(t)
		c6.Write([]byte("v6"))
		testkit.WaitFor(t, "v6 echo", func() bool { return string(r6.Bytes()) == "v6" })
		c6.Close()
		r6.WaitClose(t)
	})
}

func TestPeerResetMidStream(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		srv := testkit.NewServer(t, func(c net.Conn) {
			c.Write(bytes.Repeat([]byte("x"), 1000))
			io.ReadFull(c, make([]byte, 5))
			c.(*net.TCPConn).SetLinger(0) // close with RST
			c.Close()
		})
		e := newEngine(t, be, Config{})
		defer e.Close()
		r := testkit.NewRecorder[*Conn]()
		c, _ := e.Dial(context.Background(), "tcp", srv.Addr(), r, nil)
		r.WaitOpen(t)
		testkit.WaitFor(t, "data", func() bool { return len(r.Bytes()) == 1000 })
		c.Write([]byte("reset"))
		err := r.WaitClose(t)
		mustIs(t, err, ErrReset)
		mustIs(t, err, syscall.ECONNRESET)
	})
}

func TestPeerHalfClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		got := make(chan string, 1)
		srv := testkit.NewServer(t, func(c net.Conn) {
			c.Write([]byte("bye"))
			c.(*net.TCPConn).CloseWrite()
			b, _ := io.ReadAll(c)
			got <- string(b)
			c.Close()
		})
		e := newEngine(t, be, Config{})
		defer e.Close()

		// Without HalfCloseHandler: EOF closes with ErrPeerClosed after
		// the data.
		r := testkit.NewRecorder[*Conn]()
		e.Dial(context.Background(), "tcp", srv.Addr(), r, nil)
		mustIs(t, r.WaitClose(t), ErrPeerClosed)
		if string(r.Bytes()) != "bye" {
			t.Fatalf("data before EOF: %q", r.Bytes())
		}
		<-got

		// With it: the connection stays writable.
		hc := &halfCloser{Recorder: testkit.NewRecorder[*Conn](), shut: make(chan struct{})}
		c, _ := e.Dial(context.Background(), "tcp", srv.Addr(), hc, nil)
		select {
		case <-hc.shut:
		case <-time.After(5 * time.Second):
			t.Fatal("no OnPeerCloseWrite")
		}
		c.Write([]byte("still here"))
		c.CloseWrite()
		if s := <-got; s != "still here" {
			t.Fatalf("server read %q after half-close", s)
		}
		c.Close()
		hc.WaitClose(t)
	})
}

type halfCloser struct {
	*testkit.Recorder[*Conn]
	shut chan struct{}
}

func (h *halfCloser) OnPeerCloseWrite(c *Conn) { close(h.shut) }

func TestCloseWriteSendsQueuedBytesThenFIN(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		got := make(chan []byte, 1)
		srv := testkit.NewServer(t, func(c net.Conn) {
			b, _ := io.ReadAll(c)
			got <- b
			c.Write([]byte("ack"))
			c.Close()
		})
		e := newEngine(t, be, Config{})
		defer e.Close()
		r := testkit.NewRecorder[*Conn]()
		c, _ := e.Dial(context.Background(), "tcp", srv.Addr(), r, nil)
		payload := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB: several flushes
		c.Write(payload)
		c.CloseWrite()
		if err := c.Write([]byte("late")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Write after CloseWrite: %v", err)
		}
		select {
		case b := <-got:
			if !bytes.Equal(b, payload) {
				t.Fatalf("server got %d bytes, want %d", len(b), len(payload))
			}
		case <-time.After(10 * time.Second):
			t.Fatal("server never saw EOF")
		}
		mustIs(t, r.WaitClose(t), ErrPeerClosed)
		if string(r.Bytes()) != "ack" {
			t.Fatalf("read after CloseWrite: %q", r.Bytes())
		}
	})
}

func TestWriteQueueLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		release := make(chan struct{})
		srv := testkit.NewServer(t, func(c net.Conn) { <-release; c.Close() }) // never reads
		defer close(release)
		e := newEngine(t, be, Config{})
		defer e.Close()
		r := testkit.NewRecorder[*Conn]()
		c, _ := e.Dial(context.Background(), "tcp", srv.Addr(), r, &DialOptions{WriteQueueLimit: 256 << 10})
		r.WaitOpen(t)
		chunk := make([]byte, 64<<10)
		deadline := time.Now().Add(10 * time.Second)
		var err error
		for sent := 0; sent < 256<<20 && time.Now().Before(deadline); sent += len(chunk) {
			if err = c.Write(chunk); err != nil {
				break
			}
			if c.Stats().Queued > 128<<10 {
				time.Sleep(time.Millisecond) // let the kernel buffers fill
			}
		}
		mustIs(t, err, ErrWriteQueueFull)
		if q := c.Stats().Queued; q > 256<<10 {
			t.Fatalf("queued %d bytes, over the 256 KiB limit", q)
		}
		// The connection is still usable.
		c.Close()
		mustIs(t, r.WaitClose(t), ErrLocalClose)
	})
}

// waitLoop waits until l has run a task posted now: whatever l was doing
// (a callback, the rest of an iteration) has finished.
func waitLoop(t *testing.T, l *Loop) {
	t.Helper()
	ran := make(chan struct{})
	if !l.Post(func() { close(ran) }) {
		t.Fatal("the loop refused a task")
	}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not run a task within 10 s")
	}
}

// activityClock is a Recorder that also notes, on the loop, when the
// kernel last took bytes (OnWritten, the activity an idle timer counts)
// and when OnClose ran.
type activityClock struct {
	*testkit.Recorder[*Conn]
	mu      sync.Mutex
	written time.Time
	closed  time.Time
}

func (a *activityClock) OnWritten(*Conn, int) {
	a.mu.Lock()
	a.written = time.Now()
	a.mu.Unlock()
}

func (a *activityClock) OnClose(c *Conn, err error) {
	a.mu.Lock()
	a.closed = time.Now()
	a.mu.Unlock()
	a.Recorder.OnClose(c, err)
}

func (a *activityClock) times() (written, closed time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.written, a.closed
}

// TestIdleTimeout checks the idle timer by ordering, never by a window:
// it fires in the end (WaitClose gives up after 10 s), with
// ErrIdleTimeout, and never sooner than the timeout after the last
// activity. A machine too busy to run the writer may let the timer fire
// mid-activity; that is a correct close, and the same ordering holds.
func TestIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	forEachBackend(t, func(t *testing.T, be Backend) {
		srv := testkit.NewServer(t, testkit.Echo)
		e := newEngine(t, be, Config{})
		defer e.Close()
		// Activity pushes the deadline out: a write every 10 ms for twice
		// the timeout. The close must come at least half the timeout
		// after the last write the kernel took (half: the loop stamps
		// activity with its clock of the iteration, and a busy machine
		// may pause the loop between that stamp and OnWritten). Were
		// writes not counted, it would close 10 ms after one.
		a := &activityClock{Recorder: testkit.NewRecorder[*Conn]()}
		c, _ := e.Dial(context.Background(), "tcp", srv.Addr(), a, &DialOptions{IdleTimeout: idle})
		a.WaitOpen(t)
		writing := time.Now()
	active:
		for time.Since(writing) < 2*idle {
			select {
			case <-a.Closed():
				break active
			default:
			}
			c.Write([]byte("k"))
			time.Sleep(idle / 20)
		}
		mustIs(t, a.WaitClose(t), ErrIdleTimeout)
		written, closed := a.times()
		if written.IsZero() {
			t.Fatal("no write reached the kernel")
		}
		if gap := closed.Sub(written); gap < idle/2 {
			t.Fatalf("closed %v after the last write, with an idle timeout of %v", gap, idle)
		}
		t.Logf("closed %v after the first write, %v after the last", closed.Sub(writing), closed.Sub(written))

		// SetIdleTimeout on an open connection, which then does nothing:
		// every activity stamp (the dial, the open, the set) is at or
		// after dialled, so the close cannot come sooner than the timeout
		// after it.
		a2 := &activityClock{Recorder: testkit.NewRecorder[*Conn]()}
		dialled := time.Now()
		c2, _ := e.Dial(context.Background(), "tcp", srv.Addr(), a2, nil)
		a2.WaitOpen(t)
		c2.SetIdleTimeout(idle)
		mustIs(t, a2.WaitClose(t), ErrIdleTimeout)
		if _, closed := a2.times(); closed.Sub(dialled) < idle {
			t.Fatalf("closed %v after the dial, with an idle timeout of %v", closed.Sub(dialled), idle)
		}
	})
}

func TestPauseResumeBackPressure(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		const total = 32 << 20
		srv := testkit.NewServer(t, func(c net.Conn) {
			c.Write(make([]byte, total))
			c.Close()
		})
		e := newEngine(t, be, Config{})
		defer e.Close()
		var n atomic.Int64
		closed := make(chan error, 1)
		c, _ := e.Dial(context.Background(), "tcp", srv.Addr(), &HandlerFuncs{
			Data: func(c *Conn, b []byte) {
				if n.Add(int64(len(b))) > 1<<20 {
					c.PauseRead()
				}
			},
			Close: func(_ *Conn, err error) { closed <- err },
		}, nil)
		testkit.WaitFor(t, "first MiB", func() bool { return n.Load() > 1<<20 })
		// The callback that paused has returned once the loop has run a
		// task posted after it; from then on nothing may be read.
		waitLoop(t, c.Loop())
		paused := n.Load()
		time.Sleep(200 * time.Millisecond)
		if now := n.Load(); now != paused {
			t.Fatalf("read %d bytes while paused", now-paused)
		}
		if paused >= total {
			t.Fatal("everything arrived before the pause took effect")
		}
		// Resume one step at a time: each resume reads until paused again.
		deadline := time.Now().Add(20 * time.Second)
		for n.Load() < total && time.Now().Before(deadline) {
			c.ResumeRead()
			time.Sleep(time.Millisecond)
		}
		if n.Load() != total {
			t.Fatalf("read %d of %d", n.Load(), total)
		}
		c.ResumeRead()
		mustIs(t, <-closed, ErrPeerClosed)
	})
}

func TestSendUrgent(t *testing.T) {
	testkit.CheckLeaks(t)
	e := newEngine(t, BackendPoll, Config{})
	defer e.Close()
	oob := make(chan byte, 1)
	srv := testkit.NewServer(t, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 5)
		io.ReadFull(c, buf)
		rc, _ := c.(*net.TCPConn).SyscallConn()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			var n int
			var err error
			rc.Control(func(fd uintptr) {
				b := make([]byte, 1)
				n, _, err = syscall.Recvfrom(int(fd), b, syscall.MSG_OOB)
				if n == 1 {
					oob <- b[0]
				}
			})
			if n == 1 {
				return
			}
			_ = err
			time.Sleep(5 * time.Millisecond)
		}
	})
	r := testkit.NewRecorder[*Conn]()
	c, _ := e.Dial(context.Background(), "tcp", srv.Addr(), r, nil)
	c.Write([]byte("hello"))
	if err := c.SendUrgent([]byte{'!'}); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-oob:
		if b != '!' {
			t.Fatalf("urgent byte %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no urgent data received")
	}
	c.Close()
	r.WaitClose(t)

	en := newEngine(t, BackendNet, Config{})
	defer en.Close()
	rn := testkit.NewRecorder[*Conn]()
	cn, _ := en.Dial(context.Background(), "tcp", srv.Addr(), rn, nil)
	if err := cn.SendUrgent([]byte{1}); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("net backend SendUrgent: %v", err)
	}
	cn.Close()
	rn.WaitClose(t)
}

func TestTimers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		e := newEngine(t, be, Config{Loops: 1})
		defer e.Close()
		l := e.Loop(0)
		fired := make(chan int, 3)
		start := time.Now()
		l.AfterFunc(60*time.Millisecond, func() { fired <- 2 })
		l.AfterFunc(20*time.Millisecond, func() { fired <- 1 })
		stopped := l.AfterFunc(40*time.Millisecond, func() { fired <- 99 })
		if !stopped.Stop() {
			t.Fatal("Stop of a pending timer reported false")
		}
		next := func() int {
			select {
			case v := <-fired:
				return v
			case <-time.After(10 * time.Second):
				t.Fatal("a timer did not fire within 10 s")
				return 0
			}
		}
		if a, b := next(), next(); a != 1 || b != 2 {
			t.Fatalf("order %d %d", a, b)
		}
		if d := time.Since(start); d < 55*time.Millisecond {
			t.Fatalf("fired after %v", d)
		}
		// Timers run in deadline order, so the stopped one (40 ms) would
		// have fired before the 60 ms one, and the loop still runs tasks.
		waitLoop(t, l)
		select {
		case v := <-fired:
			t.Fatalf("stopped timer fired (%d)", v)
		default:
		}
	})
}

// TestCloseFiresEveryOnCloseOnce: engine shutdown closes open, dialing and
// accepted connections, each OnClose exactly once, and leaks nothing.
func TestCloseFiresEveryOnCloseOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		hang := fullBacklogListener(t)
		srv := testkit.NewServer(t, testkit.Echo)
		e := newEngine(t, be, Config{})
		var mu sync.Mutex
		closes := map[*Conn]int{}
		reasons := map[string]int{}
		h := &HandlerFuncs{Close: func(c *Conn, err error) {
			mu.Lock()
			closes[c]++
			switch {
			case errors.Is(err, ErrEngineClosed):
				reasons["engine"]++
			case errors.Is(err, ErrPeerClosed), errors.Is(err, ErrReset):
				// The other end of an in-engine pair closed first.
				reasons["peer"]++
			default:
				reasons[err.Error()]++
			}
			mu.Unlock()
		}}
		var accepted atomic.Int64
		ln, err := e.Listen("tcp", "127.0.0.1:0", func(*Conn) Handler { accepted.Add(1); return h }, nil)
		if err != nil {
			t.Fatal(err)
		}
		var all []*Conn
		for i := 0; i < 20; i++ {
			c, _ := e.Dial(context.Background(), "tcp", srv.Addr(), h, nil)
			all = append(all, c)
			c, _ = e.Dial(context.Background(), "tcp", ln.Addr().String(), h, nil)
			all = append(all, c)
		}
		for i := 0; i < 5; i++ {
			c, _ := e.Dial(context.Background(), "tcp", hang, h, nil)
			all = append(all, c)
		}
		testkit.WaitFor(t, "connections", func() bool { s := e.Stats(); return s.Open == 60 && s.Dialing == 5 })
		e.Close()
		mu.Lock()
		defer mu.Unlock()
		if len(closes) != 65 {
			t.Fatalf("OnClose for %d connections, want 65", len(closes))
		}
		for c, n := range closes {
			if n != 1 {
				t.Fatalf("OnClose %d times for %v", n, c.RemoteAddr())
			}
		}
		// Each in-engine pair has at least one end closed by the engine.
		if reasons["engine"] < 45 || reasons["engine"]+reasons["peer"] != 65 {
			t.Fatalf("reasons %v", reasons)
		}
		if _, err := e.Dial(context.Background(), "tcp", srv.Addr(), h, nil); !errors.Is(err, ErrEngineClosed) {
			t.Fatalf("Dial after Close: %v", err)
		}
	})
}

// TestIdleConnectionsHoldNoGoroutine: with the poll backend, idle
// connections cost no goroutine at all.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	testkit.CheckLeaks(t)
	const n = 2000
	raiseFileLimit(t)
	srv := newEngine(t, BackendPoll, Config{Loops: 1})
	defer srv.Close()
	ln, err := srv.Listen("tcp", "127.0.0.1:0", func(*Conn) Handler { return BaseHandler{} }, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, BackendPoll, Config{})
	defer e.Close()
	g0 := runtime.NumGoroutine()
	for i := 0; i < n; i++ {
		e.Dial(context.Background(), "tcp", ln.Addr().String(), BaseHandler{}, nil)
	}
	testkit.WaitFor(t, "connections", func() bool { return e.Stats().Open == n && srv.Stats().Open == n })
	if g := runtime.NumGoroutine(); g > g0+4 {
		t.Fatalf("%d goroutines for %d idle connections (was %d)", g, n, g0)
	}
}

func TestHybridListenerSpreadsOverLoops(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		if be == BackendNet {
			t.Skip("the net backend listens on one socket")
		}
		srv := newEngine(t, be, Config{Loops: 2})
		defer srv.Close()
		var perLoop [2]atomic.Int64
		ln, err := srv.Listen("tcp", "127.0.0.1:0", func(c *Conn) Handler {
			perLoop[c.Loop().ID()].Add(1)
			return &HandlerFuncs{Data: func(c *Conn, b []byte) { c.Write(b) }}
		}, &ListenConfig{ReusePort: true})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var conns []net.Conn
		for i := 0; i < 64; i++ {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Write([]byte("ping"))
			b := make([]byte, 4)
			if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping" {
				t.Fatalf("echo: %q %v", b, err)
			}
			c.Close()
		}
		if perLoop[0].Load() == 0 || perLoop[1].Load() == 0 {
			t.Fatalf("SO_REUSEPORT accepted %d / %d per loop", perLoop[0].Load(), perLoop[1].Load())
		}
	})
}

func TestDialBadInput(t *testing.T) {
	testkit.CheckLeaks(t)
	e := newEngine(t, BackendAuto, Config{Loops: 1})
	defer e.Close()
	for _, tc := range []struct{ network, addr string }{
		{"udp", "127.0.0.1:1"},
		{"tcp", "no-port"},
		{"tcp", "127.0.0.1:notaport"},
		{"tcp", "127.0.0.1:70000"},
	} {
		if _, err := e.Dial(context.Background(), tc.network, tc.addr, BaseHandler{}, nil); err == nil {
			t.Errorf("Dial(%q, %q) succeeded", tc.network, tc.addr)
		} else if !strings.Contains(err.Error(), "egress") && !strings.Contains(err.Error(), "port") {
			t.Errorf("Dial(%q, %q): unclear error %v", tc.network, tc.addr, err)
		}
	}
	if _, err := e.Dial(context.Background(), "tcp", "127.0.0.1:1", nil, nil); err == nil {
		t.Error("Dial with nil handler succeeded")
	}
}

// TestDNSFailureThroughResolver: the engine's resolver path, with the
// resolver package's typed errors (the lookup is faked: tests send no DNS
// query).
func TestDNSFailureThroughResolver(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		res := resolver.New(resolver.Config{Lookup: func(ctx context.Context, network, host string) ([]netip.Addr, error) {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}})
		defer res.Close()
		e := newEngine(t, be, Config{Resolver: res})
		defer e.Close()
		r := testkit.NewRecorder[*Conn]()
		e.Dial(context.Background(), "tcp", "missing.test:443", r, nil)
		err := r.WaitClose(t)
		mustIs(t, err, resolver.ErrNotFound)
		var de *DialError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "missing.test") {
			t.Fatalf("want a *DialError naming the host, got %v", err)
		}
	})
}

func TestTimerStopAfterClose(t *testing.T) {
	testkit.CheckLeaks(t)
	e := newEngine(t, BackendPoll, Config{Loops: 1})
	tm := e.Loop(0).AfterFunc(time.Hour, func() {})
	e.Close()
	if tm.Stop() {
		t.Fatal("Stop after Close reported a pending timer")
	}
}

func TestLocalAddrFromAnotherGoroutine(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be Backend) {
		srv := testkit.NewServer(t, testkit.Echo)
		e := newEngine(t, be, Config{})
		defer e.Close()
		r := testkit.NewRecorder[*Conn]()
		c, _ := e.Dial(context.Background(), "tcp", srv.Addr(), r, nil)
		r.WaitOpen(t)
		done := make(chan struct{})
		go func() {
			for i := 0; i < 100; i++ {
				c.LocalAddr()
			}
			close(done)
		}()
		c.Close()
		<-done
		r.WaitClose(t)
	})
}
