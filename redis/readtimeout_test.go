package redis

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// echoReply encodes the bulk-string reply of ECHO s.
func echoReply(s string) []byte {
	return []byte("$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n")
}

// silenceableServer is a fake Redis server that answers ECHO with its
// argument, PING with PONG and anything else with an error, until silent
// is set: then it reads commands and answers none, alive to TCP and dead
// to Redis.
func silenceableServer(t *testing.T) (*testkit.Server, *atomic.Bool) {
	silent := new(atomic.Bool)
	f := testkit.NewServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			if silent.Load() {
				continue
			}
			switch args[0] {
			case "PING":
				c.Write([]byte("+PONG\r\n"))
			case "ECHO":
				c.Write(echoReply(args[1]))
			default:
				c.Write([]byte("-ERR unknown command\r\n"))
			}
		}
	})
	return f, silent
}

// A server that keeps the connection open but stops answering (a stopped
// process, a network black hole) must not hold a command with
// context.Background for ever, nor every later command on the shared
// connection: the connection is presumed dead after ReadTimeout, its
// commands fail with ErrReadTimeout, and the next command goes out on a
// new connection.
func TestReadTimeoutReplacesSilentConn(t *testing.T) {
	testkit.CheckLeaks(t)
	f, silent := silenceableServer(t)
	const rt = 200 * time.Millisecond
	c := newTestClient(t, Options{Addr: f.Addr(), Protocol: 2, ReadTimeout: rt})
	silent.Store(true)

	async := make(chan error, 1)
	start := time.Now()
	if err := c.DoAsync(context.Background(), func(_ *resp.Value, err error) { async <- err }, "ECHO", "async"); err != nil {
		t.Fatal(err)
	}
	// context.Background: only the read timeout can end it. The test's
	// own bound keeps a broken build from hanging here; the client's Close
	// at cleanup ends the Do.
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), "ECHO", "lost")
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Do with context.Background on a silent server still waiting after 5 s")
	}
	elapsed := time.Since(start)
	var ce *ConnError
	if !errors.Is(err, ErrReadTimeout) || !errors.As(err, &ce) || !ce.Sent || !ce.Timeout() {
		t.Fatalf("Do on a silent server: %v, want a *ConnError (sent, timeout) wrapping ErrReadTimeout", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Do on a silent server: %v is not a net.Error timeout", err)
	}
	// Not before ReadTimeout (the timer's resolution is about a
	// millisecond), and well within its bound of 1.25 times it, with room
	// for a busy machine.
	if elapsed < rt-5*time.Millisecond || elapsed > 10*rt {
		t.Fatalf("Do failed after %v, want about %v", elapsed, rt)
	}
	select {
	case err := <-async:
		if !errors.Is(err, ErrReadTimeout) {
			t.Fatalf("DoAsync on a silent server: %v, want ErrReadTimeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("DoAsync's callback not called after the connection was presumed dead")
	}
	testkit.WaitFor(t, "the dead connection to be closed by the client", func() bool { return f.Finished() >= 1 })

	silent.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.Do(ctx, "ECHO", "back")
	if err != nil {
		t.Fatalf("Do once the server answers again: %v", err)
	}
	if s, _ := r.Text(); s != "back" {
		t.Fatalf("Do once the server answers again: %q, want back", s)
	}
	if n := f.Accepted(); n < 2 {
		t.Fatalf("%d connections accepted, want a new one after the dead one", n)
	}
}

// A negative ReadTimeout turns the check off: the command waits for its
// context, as before.
func TestReadTimeoutNegativeDisables(t *testing.T) {
	testkit.CheckLeaks(t)
	f, silent := silenceableServer(t)
	c := newTestClient(t, Options{Addr: f.Addr(), Protocol: 2, ReadTimeout: -1})
	if c.Options().ReadTimeout >= 0 {
		t.Fatalf("ReadTimeout %v after defaults, want it negative (off)", c.Options().ReadTimeout)
	}
	silent.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := c.Do(ctx, "PING"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do with the read timeout off: %v, want the context's deadline", err)
	}
	if n := f.Accepted(); n != 1 {
		t.Fatalf("%d connections accepted, want the first kept", n)
	}
}

// pongArray is PING's reply in RESP2 subscribed mode.
const pongArray = "*2\r\n$4\r\npong\r\n$0\r\n\r\n"

// A subscription connection has no reply due most of the time, so a
// server gone silent would go unnoticed: the PubSub sends a PING when it
// has heard nothing for ReadTimeout, and reconnects (and subscribes again)
// when the PING brings nothing either.
func TestReadTimeoutPubSubPing(t *testing.T) {
	testkit.CheckLeaks(t)
	var subscribers atomic.Int32
	pinged := make(chan struct{}, 1)
	resubscribed := make(chan struct{}, 1)
	f := testkit.NewServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		n := int32(0) // which subscriber connection this is, from 1
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			switch args[0] {
			case "SUBSCRIBE":
				if n == 0 {
					n = subscribers.Add(1)
				}
				for i, ch := range args[1:] {
					c.Write(pushArray("subscribe", ch, i+1))
				}
				if n == 2 {
					select {
					case resubscribed <- struct{}{}:
					default:
					}
					c.Write([]byte("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nafter\r\n"))
				}
			case "PING":
				if n == 1 {
					// The first subscriber's server has gone silent: the
					// PING, the health check, is never answered.
					select {
					case pinged <- struct{}{}:
					default:
					}
					continue
				}
				if n > 0 {
					c.Write([]byte(pongArray))
				} else {
					c.Write([]byte("+PONG\r\n"))
				}
			}
		}
	})
	const rt = 200 * time.Millisecond
	c := newTestClient(t, Options{Addr: f.Addr(), Protocol: 2, ReadTimeout: rt})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ps, err := c.Subscribe(ctx, "news")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	select {
	case <-pinged:
	case <-ctx.Done():
		t.Fatal("no PING on an idle subscription connection")
	}
	m, err := ps.Receive(ctx)
	if err != nil || m.Kind != "reconnected" {
		t.Fatalf("Receive: %+v, %v; want the reconnected notice", m, err)
	}
	select {
	case <-resubscribed:
	default:
		t.Fatal("reconnected without subscribing again")
	}
	m, err = ps.Receive(ctx)
	if err != nil || m.Kind != "message" || m.Payload != "after" {
		t.Fatalf("Receive after the reconnection: %+v, %v; want the message sent on the new connection", m, err)
	}
	testkit.WaitFor(t, "the silent subscription connection to be closed", func() bool { return f.Finished() >= 1 })
}

// Blocking commands rightly wait longer than ReadTimeout for their reply:
// their own timeout extends it. BLPOP with a 1 s timeout on a live server
// that sends nothing meanwhile must return its null, not be cut at the
// read timeout.
func TestReadTimeoutSparesBlockingCommands(t *testing.T) {
	s := sharedServer(t)
	testkit.CheckLeaks(t)
	const rt = 200 * time.Millisecond
	c := newTestClient(t, Options{Addr: s.Addr, ReadTimeout: rt})
	start := time.Now()
	_, _, err := c.BLPop(context.Background(), time.Second, "readtimeout:blpop:empty")
	if !errors.Is(err, ErrNil) {
		t.Fatalf("BLPOP 1s with ReadTimeout %v: %v, want ErrNil after its own timeout", rt, err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("BLPOP returned after %v, before its 1 s timeout", d)
	}
}

// WAIT runs on the shared connection and holds it up to its timeout; the
// read timeout of that connection is extended by it, so a WAIT longer than
// ReadTimeout on a live server is not cut, and the commands behind it are
// not failed.
func TestReadTimeoutSparesWait(t *testing.T) {
	s := sharedServer(t)
	testkit.CheckLeaks(t)
	const rt = 200 * time.Millisecond
	c := newTestClient(t, Options{Addr: s.Addr, ReadTimeout: rt})
	ctx := ctxT(t)
	// No replica: WAIT 1 waits its whole timeout, then says 0. The PING
	// is queued behind it on the one shared connection, so it waits as
	// long, and must not be failed either.
	type result struct {
		n   int64
		err error
	}
	waited := make(chan result, 1)
	start := time.Now()
	if err := c.DoAsync(context.Background(), func(v *resp.Value, err error) {
		var n int64
		if err == nil {
			n, err = AsInt(v)
		}
		waited <- result{n, err}
	}, "WAIT", "1", "600"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, "PING"); err != nil {
		t.Fatalf("PING behind a WAIT longer than ReadTimeout: %v", err)
	}
	if d := time.Since(start); d < 550*time.Millisecond {
		t.Fatalf("PING answered after %v: it was not behind the WAIT, the test proves nothing", d)
	}
	if r := <-waited; r.err != nil || r.n != 0 {
		t.Fatalf("WAIT 1 600 with ReadTimeout %v: %d, %v; want 0 replicas", rt, r.n, r.err)
	}
	// In a pipeline too.
	p := c.Pipeline()
	p.Do("WAIT", "1", "500")
	p.Do("PING")
	if _, err := p.Exec(ctx); err != nil {
		t.Fatalf("pipeline with WAIT 1 500: %v", err)
	}
}

// ReadTimeout bounds silence, not the time a command waits: a server that
// works through a deep pipeline slowly but steadily, every reply within
// ReadTimeout of the one before, is alive, however long the last command
// waits in all.
func TestReadTimeoutSlowServerNotCut(t *testing.T) {
	testkit.CheckLeaks(t)
	const delay = 60 * time.Millisecond
	f := testkit.NewServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			if args[0] == "ECHO" {
				time.Sleep(delay) // a slow server: each reply takes a while
				c.Write(echoReply(args[1]))
				continue
			}
			c.Write([]byte("+PONG\r\n"))
		}
	})
	const rt = 300 * time.Millisecond
	c := newTestClient(t, Options{Addr: f.Addr(), Protocol: 2, ReadTimeout: rt})
	const n = 12 // 12 × 60 ms: the last waits more than twice ReadTimeout
	errs := make(chan error, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := c.DoAsync(context.Background(), func(_ *resp.Value, err error) { errs <- err }, "ECHO", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("command %d of a slow but steady pipeline: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("slow pipeline not answered within 10 s")
		}
	}
	if d := time.Since(start); d < rt {
		t.Fatalf("the pipeline took %v, less than ReadTimeout: the test proves nothing", d)
	}
	if a := f.Accepted(); a != 1 {
		t.Fatalf("%d connections accepted, want the first kept", a)
	}
}

// A PubSub whose reader fell behind has its reads paused (back-pressure):
// the silence is then the client's doing, and must not get the connection
// pinged and presumed dead. Once the reader catches up, the health check
// resumes.
func TestReadTimeoutPubSubPausedNotDead(t *testing.T) {
	testkit.CheckLeaks(t)
	const flood = highWater + 100
	pinged := make(chan struct{}, 1)
	f := testkit.NewServer(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		sub := false
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			switch args[0] {
			case "SUBSCRIBE":
				sub = true
				c.Write(pushArray("subscribe", args[1], 1))
				var b []byte
				for i := 0; i < flood; i++ {
					p := strconv.Itoa(i)
					b = append(b, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$"+strconv.Itoa(len(p))+"\r\n"+p+"\r\n"...)
				}
				c.Write(b)
			case "PING":
				if sub {
					select {
					case pinged <- struct{}{}:
					default:
					}
					c.Write([]byte(pongArray))
				} else {
					c.Write([]byte("+PONG\r\n"))
				}
			}
		}
	})
	const rt = 200 * time.Millisecond
	c := newTestClient(t, Options{Addr: f.Addr(), Protocol: 2, ReadTimeout: rt})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := c.Subscribe(ctx, "news")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	testkit.WaitFor(t, "the PubSub to pause its reads", func() bool {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		return ps.paused != nil
	})
	// Nothing to wait for here but the absence of an event: four times
	// ReadTimeout is twice what a PING and its own timeout would take.
	select {
	case <-pinged:
		t.Fatal("a PubSub with paused reads was pinged: its silence is its own")
	case <-time.After(4 * rt):
	}
	for i := 0; i < flood; i++ {
		m, err := ps.Receive(ctx)
		if err != nil {
			t.Fatalf("Receive %d: %v", i, err)
		}
		if m.Kind != "message" || m.Payload != strconv.Itoa(i) {
			t.Fatalf("Receive %d: %+v, want message %d (no reconnection)", i, m, i)
		}
	}
	select {
	case <-pinged: // reads resumed, and the quiet connection is checked again
	case <-ctx.Done():
		t.Fatal("no health check once the reader caught up")
	}
	if a := f.Accepted(); a != 2 {
		t.Fatalf("%d connections accepted, want 2 (shared, subscription): none replaced", a)
	}
}

// A Conn is watched too: a command on it with context.Background fails
// with ErrReadTimeout when the server goes silent, and, as a Conn does not
// reconnect, later ones fail at once with the same cause.
func TestReadTimeoutConn(t *testing.T) {
	testkit.CheckLeaks(t)
	f, silent := silenceableServer(t)
	c := newTestClient(t, Options{Addr: f.Addr(), Protocol: 2, ReadTimeout: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Do(ctx, "PING"); err != nil {
		t.Fatal(err)
	}
	silent.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := d.Do(context.Background(), "PING")
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Conn.Do with context.Background on a silent server still waiting after 5 s")
	}
	var ce *ConnError
	if !errors.Is(err, ErrReadTimeout) || !errors.As(err, &ce) || !ce.Sent {
		t.Fatalf("Conn.Do on a silent server: %v, want a *ConnError (sent) wrapping ErrReadTimeout", err)
	}
	if _, err := d.Do(ctx, "PING"); !errors.Is(err, ErrReadTimeout) || !errors.As(err, &ce) || ce.Sent {
		t.Fatalf("Conn.Do after its connection timed out: %v, want a *ConnError (not sent) wrapping ErrReadTimeout", err)
	}
}

// A blocking command with a timeout of 0 waits for ever, which is no
// sign of a dead server: BLPOP 0, and XREAD BLOCK 0 on a Conn, still wait
// well past ReadTimeout and return what is pushed then.
func TestReadTimeoutSparesBlockForever(t *testing.T) {
	s := sharedServer(t)
	testkit.CheckLeaks(t)
	const rt = 100 * time.Millisecond
	const name = "readtimeout-forever"
	c := newTestClient(t, Options{Addr: s.Addr, ReadTimeout: rt, ClientName: name})
	ctx := ctxT(t)
	list, stream := "readtimeout:forever:list", "readtimeout:forever:stream"
	c.Do(ctx, "DEL", list, stream)
	d, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	popped := make(chan error, 1)
	go func() {
		_, v, err := c.BLPop(ctx, 0, list)
		if err == nil && v != "late" {
			err = errors.New("BLPOP popped " + v)
		}
		popped <- err
	}()
	read := make(chan error, 1)
	go func() {
		_, err := d.Do(ctx, "XREAD", "BLOCK", "0", "STREAMS", stream, "$")
		read <- err
	}()
	// Nothing to wait for but time: both must still be blocked after
	// several read timeouts. Their blocking is seen by the server first.
	testkit.WaitFor(t, "both commands to block on the server", func() bool {
		return blockedClients(t, c, ctx, name) == 2
	})
	select {
	case err := <-popped:
		t.Fatalf("BLPOP 0 returned before anything was pushed: %v", err)
	case err := <-read:
		t.Fatalf("XREAD BLOCK 0 returned before anything was added: %v", err)
	case <-time.After(5 * rt):
	}
	if _, err := c.Do(ctx, "RPUSH", list, "late"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, "XADD", stream, "*", "f", "v"); err != nil {
		t.Fatal(err)
	}
	if err := <-popped; err != nil {
		t.Fatalf("BLPOP 0 past the read timeout: %v", err)
	}
	if err := <-read; err != nil {
		t.Fatalf("XREAD BLOCK 0 on a Conn past the read timeout: %v", err)
	}
}

// holdFor reads each blocking command's timeout where it is.
func TestHoldFor(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{[]string{"BLPOP", "a", "b", "1.5"}, 1500 * time.Millisecond},
		{[]string{"brpop", "a", "2"}, 2 * time.Second},
		{[]string{"BLMOVE", "a", "b", "LEFT", "RIGHT", "0.25"}, 250 * time.Millisecond},
		{[]string{"BRPOPLPUSH", "a", "b", "3"}, 3 * time.Second},
		{[]string{"BZPOPMIN", "z", "0.5"}, 500 * time.Millisecond},
		{[]string{"BLMPOP", "4", "1", "a", "LEFT"}, 4 * time.Second},
		{[]string{"bzmpop", "0.1", "1", "z", "MIN"}, 100 * time.Millisecond},
		{[]string{"XREAD", "COUNT", "1", "BLOCK", "700", "STREAMS", "s", "$"}, 700 * time.Millisecond},
		{[]string{"XREADGROUP", "GROUP", "g", "c", "block", "20", "STREAMS", "s", ">"}, 20 * time.Millisecond},
		{[]string{"BLPOP", "a", "0"}, holdForever},
		{[]string{"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}, holdForever},
		{[]string{"BLPOP", "a", "soon"}, holdForever},
		{[]string{"BLPOP", "a", "1e300"}, holdForever / time.Second * time.Second},
	} {
		if got := holdFor(kindBlocking, tc.args); got != tc.want {
			t.Errorf("holdFor(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
	if got := holdFor(kindWait, []string{"WAIT", "1", "250"}); got != 250*time.Millisecond {
		t.Errorf("holdFor(WAIT 1 250) = %v", got)
	}
	if got := holdFor(kindWait, []string{"WAITAOF", "1", "0", "0"}); got != holdForever {
		t.Errorf("holdFor(WAITAOF 1 0 0) = %v, want for ever", got)
	}
}
