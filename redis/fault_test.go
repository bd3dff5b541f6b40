package redis

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// raceEnabled is set by race_test.go.
var raceEnabled bool

func TestServerKilledMidPipeline(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startServer(t, serverConfig{})
	c := newTestClient(t, Options{Addr: s.Addr, MinRetryBackoff: 5 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond})
	ctx := ctxT(t)

	// DEBUG SLEEP holds the server, so that every command after it is in
	// flight when the server dies: the kill waits until the kernel has
	// taken every byte of them (the connection is up first, so that the
	// handshake's bytes are not counted).
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	out0 := c.Engine().Stats().BytesOut
	const n = 2000
	errs := make(chan error, n+1)
	cb := func(v *resp.Value, err error) { errs <- err }
	if err := c.DoAsync(context.Background(), cb, "DEBUG", "SLEEP", "5"); err != nil {
		t.Fatal(err)
	}
	wire := len(resp.AppendCommand(nil, "DEBUG", "SLEEP", "5"))
	for i := 0; i < n; i++ {
		if err := c.DoAsync(context.Background(), cb, "ECHO", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		wire += len(resp.AppendCommand(nil, "ECHO", strconv.Itoa(i)))
	}
	testkit.WaitFor(t, "every command written", func() bool { return c.Engine().Stats().BytesOut-out0 >= int64(wire) })
	s.kill()
	timeout := time.After(5 * time.Second)
	for i := 0; i < n+1; i++ {
		select {
		case err := <-errs:
			var ce *ConnError
			if !errors.As(err, &ce) || !ce.Sent {
				t.Fatalf("command %d: %v", i, err)
			}
			if !errors.Is(err, engine.ErrReset) && !errors.Is(err, engine.ErrPeerClosed) {
				t.Fatalf("command %d: cause %v", i, err)
			}
		case <-timeout:
			t.Fatalf("%d of %d in-flight commands never completed", n+1-i, n+1)
		}
	}
	// While the server is away, commands fail promptly with a *ConnError
	// that says they were not sent.
	start := time.Now()
	err := c.Ping(ctx)
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Sent || time.Since(start) > 2*time.Second {
		t.Fatalf("ping while down: %v after %v", err, time.Since(start))
	}
	// Redials go on, spaced by the back-off, not a tight loop. The wait
	// before redial n is at least half of 5 ms doubled n-1 times, capped at
	// 50 ms: whatever the attempt reached so far, 9 more redials hold at
	// least 8 whole waits, 2.5+5+10+20+25+25+25+25 = 137.5 ms.
	d0 := c.Pool().Stats().Dials
	waiting := time.Now()
	testkit.WaitFor(t, "9 redials while the server is down", func() bool { return c.Pool().Stats().Dials-d0 >= 9 })
	if d := time.Since(waiting); d < 137*time.Millisecond {
		t.Fatalf("9 redials in %v while the server was down: the back-off allows no fewer than 137.5 ms", d)
	}
	// The server comes back on the same port: the client reconnects.
	s.start()
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("no reconnection: %v", c.Ping(ctx))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, err := c.Echo(ctx, "back"); err != nil || v != "back" {
		t.Fatalf("after reconnect: %q, %v", v, err)
	}
}

// newCountingFakeServer is testkit.NewServer telling serve which
// connection, counted from 1, it serves: for servers that behave
// differently on a redial.
func newCountingFakeServer(t *testing.T, serve func(c net.Conn, n int)) *testkit.Server {
	var conns atomic.Int32
	return testkit.NewServer(t, func(c net.Conn) { serve(c, int(conns.Add(1))) })
}

// readCommand reads one RESP command (an array of bulk strings).
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, _ := strconv.Atoi(line[1 : len(line)-2])
	args := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if _, err := r.ReadString('\n'); err != nil {
			return nil, err
		}
		a, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		args = append(args, a[:len(a)-2])
	}
	return args, nil
}

func TestFaultyServers(t *testing.T) {
	ctx := ctxT(t)
	t.Run("garbage", func(t *testing.T) {
		testkit.CheckLeaks(t)
		f := testkit.NewServer(t, func(c net.Conn) {
			r := bufio.NewReader(c)
			for {
				if _, err := readCommand(r); err != nil {
					return
				}
				c.Write([]byte("?what\r\n"))
			}
		})
		c, _ := NewClient(Options{Addr: f.Addr(), Protocol: 2})
		defer c.Close()
		err := c.Ping(ctx)
		var ce *ConnError
		if !errors.As(err, &ce) || !ce.Sent || !errors.Is(err, resp.ErrProtocol) {
			t.Fatalf("garbage reply: %v", err)
		}
	})
	t.Run("unsolicited", func(t *testing.T) {
		testkit.CheckLeaks(t)
		f := testkit.NewServer(t, func(c net.Conn) {
			r := bufio.NewReader(c)
			for {
				if _, err := readCommand(r); err != nil {
					return
				}
				c.Write([]byte("+PONG\r\n+EXTRA\r\n"))
			}
		})
		c, _ := NewClient(Options{Addr: f.Addr(), Protocol: 2})
		defer c.Close()
		c.Ping(ctx) // answered; then the extra reply breaks the connection
		deadline := time.Now().Add(5 * time.Second)
		for c.Pool().Stats().Dials < 2 {
			if time.Now().After(deadline) {
				t.Fatal("connection with an unsolicited reply was kept")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	t.Run("silent handshake", func(t *testing.T) {
		testkit.CheckLeaks(t)
		f := testkit.NewServer(t, func(c net.Conn) {
			bufio.NewReader(c).ReadString(0) // read, never answer
		})
		c, _ := NewClient(Options{Addr: f.Addr(), Password: "x", DialTimeout: 150 * time.Millisecond})
		defer c.Close()
		err := c.Ping(ctx)
		if !errors.Is(err, ErrHandshakeTimeout) {
			t.Fatalf("silent server: %v", err)
		}
	})
	t.Run("hangs up mid-reply", func(t *testing.T) {
		testkit.CheckLeaks(t)
		f := testkit.NewServer(t, func(c net.Conn) {
			r := bufio.NewReader(c)
			if _, err := readCommand(r); err != nil {
				return
			}
			c.Write([]byte("$10\r\nhalf"))
		})
		c, _ := NewClient(Options{Addr: f.Addr(), Protocol: 2})
		defer c.Close()
		_, err := c.Get(ctx, "k")
		var ce *ConnError
		if !errors.As(err, &ce) || !ce.Sent || !errors.Is(err, engine.ErrPeerClosed) {
			t.Fatalf("cut reply: %v", err)
		}
	})
	t.Run("old server without HELLO", func(t *testing.T) {
		testkit.CheckLeaks(t)
		f := testkit.NewServer(t, func(c net.Conn) {
			r := bufio.NewReader(c)
			authed := false
			for {
				args, err := readCommand(r)
				if err != nil {
					return
				}
				switch {
				case args[0] == "HELLO":
					c.Write([]byte("-ERR unknown command 'HELLO'\r\n"))
				case args[0] == "AUTH":
					if len(args) != 2 || args[1] != "pw" {
						c.Write([]byte("-ERR bad auth\r\n"))
						return
					}
					authed = true
					c.Write([]byte("+OK\r\n"))
				case !authed:
					c.Write([]byte("-NOAUTH Authentication required.\r\n"))
				default:
					c.Write([]byte("+OK\r\n"))
				}
			}
		})
		c := newTestClient(t, Options{Addr: f.Addr(), Password: "pw", DB: 2})
		if err := c.Set(ctx, "k", "v", 0); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCloseWithCommandsInFlight(t *testing.T) {
	s := sharedServer(t)
	testkit.CheckLeaks(t)
	name := "close-in-flight-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	c, err := NewClient(Options{Addr: s.Addr, Conns: 2, ClientName: name})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		if err := c.DoAsync(context.Background(), func(v *resp.Value, err error) { wg.Done() }, "ECHO", "x"); err != nil {
			wg.Done()
		}
	}
	blpop := make(chan error, 1)
	go func() {
		_, _, err := c.BLPop(ctx, 0, "never")
		blpop <- err
	}()
	// In flight means blocked on the server (asked over the shared
	// connection, which also proves it was not held up).
	testkit.WaitFor(t, "the server to block on the BLPOP", func() bool { return blockedClients(t, c, ctx, name) == 1 })
	c.Close()
	wg.Wait() // every callback ran
	if err := <-blpop; !errors.Is(err, ErrClosed) {
		t.Fatalf("blpop at close: %v", err)
	}
	if _, err := c.Do(ctx, "PING"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// Commands sent while a dropped connection is being replaced wait for the
// new one and succeed there; only the one in flight on the old one fails.
func TestQueuedDuringRedial(t *testing.T) {
	testkit.CheckLeaks(t)
	// The second connection's handshake is held (its AUTH unanswered)
	// until the test has queued its commands: they are queued during the
	// redial whatever the machine's speed.
	authSeen := make(chan struct{}, 1)
	release := make(chan struct{})
	f := newCountingFakeServer(t, func(c net.Conn, n int) {
		r := bufio.NewReader(c)
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			switch {
			case args[0] == "AUTH":
				if n == 2 {
					authSeen <- struct{}{}
					select { // a slow handshake
					case <-release:
					case <-time.After(10 * time.Second):
					}
				}
				c.Write([]byte("+OK\r\n"))
			case args[0] == "ECHO" && args[1] == "drop":
				return // hang up with the command in flight
			case args[0] == "ECHO":
				c.Write([]byte("$" + strconv.Itoa(len(args[1])) + "\r\n" + args[1] + "\r\n"))
			default:
				c.Write([]byte("+PONG\r\n"))
			}
		}
	})
	c := newTestClient(t, Options{Addr: f.Addr(), Protocol: 2, Password: "pw"})
	ctx := ctxT(t)
	_, err := c.Echo(ctx, "drop")
	var ce *ConnError
	if !errors.As(err, &ce) || !ce.Sent {
		t.Fatalf("in flight at the drop: %v", err)
	}
	// The redial is in its handshake now: these wait for it, the
	// asynchronous ones queued before the handshake ends, the blocking
	// ones queued then or soon after.
	select {
	case <-authSeen:
	case <-time.After(10 * time.Second):
		t.Fatal("no redial reached its handshake within 10 s")
	}
	type echoed struct {
		want, got string
		err       error
	}
	results := make(chan echoed, 40)
	for i := 0; i < 20; i++ {
		want := strconv.Itoa(i)
		if err := c.DoAsync(ctx, func(v *resp.Value, err error) {
			got, _ := AsString(v)
			results <- echoed{want, got, err}
		}, "ECHO", want); err != nil {
			t.Fatalf("echo %s queued during redial: %v", want, err)
		}
	}
	var wg sync.WaitGroup
	for i := 20; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := strconv.Itoa(i)
			got, err := c.Echo(ctx, want)
			results <- echoed{want, got, err}
		}()
	}
	select {
	case r := <-results:
		t.Fatalf("echo %s answered while the handshake was held: %q, %v", r.want, r.got, r.err)
	default:
	}
	close(release)
	wg.Wait()
	for i := 0; i < 40; i++ {
		select {
		case r := <-results:
			if r.err != nil || r.got != r.want {
				t.Errorf("echo during redial = %q, %v; want %q", r.got, r.err, r.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of 40 echoes unanswered after 10 s", 40-i)
		}
	}
}

// TestCloseWhileBlockingCommandDials: Client.Close while a blocking
// command's own connection is still being set up (its AUTH unanswered)
// fails the command with ErrClosed, as for one in flight. (The handshake
// is HELLO with AUTH, or AUTH alone.)
func TestCloseWhileBlockingCommandDials(t *testing.T) {
	testkit.CheckLeaks(t)
	authSeen := make(chan struct{}, 4)
	f := newCountingFakeServer(t, func(c net.Conn, n int) {
		r := bufio.NewReader(c)
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			if (args[0] == "AUTH" || args[0] == "HELLO") && n > 1 {
				authSeen <- struct{}{} // and no answer: the set-up hangs
				continue
			}
			c.Write([]byte("+OK\r\n"))
		}
	})
	c, err := NewClient(Options{Addr: f.Addr(), Password: "pw", Conns: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	blpop := make(chan error, 1)
	go func() {
		_, _, err := c.BLPop(ctx, 0, "k")
		blpop <- err
	}()
	select {
	case <-authSeen:
	case <-time.After(10 * time.Second):
		t.Fatal("the blocking command's connection never sent AUTH")
	}
	c.Close()
	select {
	case err := <-blpop:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blpop closed during its dial: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blpop did not end at Close")
	}
}
