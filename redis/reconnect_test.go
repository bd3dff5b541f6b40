package redis

import (
	"bufio"
	"context"
	"errors"
	"net"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// fastRetry makes reconnection tests quick: 5 ms doubling to 40 ms.
func fastRetry(o Options) Options {
	o.MinRetryBackoff, o.MaxRetryBackoff = 5*time.Millisecond, 40*time.Millisecond
	return o
}

// killPubSubs closes, server-side, every connection in pub/sub mode and
// returns how many there were.
func killPubSubs(t *testing.T, c *Client, ctx context.Context) int64 {
	t.Helper()
	r, err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := r.Int()
	return n
}

// receiver is a PubSub or a ClusterPubSub.
type receiver interface {
	Receive(context.Context) (Message, error)
}

// receive is Receive bounded by a short time.
func receive(t *testing.T, ps receiver) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := ps.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

func numSub(t *testing.T, c *Client, ctx context.Context, ch string) int64 {
	t.Helper()
	r, err := c.Do(ctx, "PUBSUB", "NUMSUB", ch)
	if err != nil {
		t.Fatal(err)
	}
	return r.Value().Elems[1].Int // [channel, count]
}

// waitBackoff waits until ps is between two attempts.
func waitBackoff(t *testing.T, ps *PubSub) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ps.mu.Lock()
		st := ps.state
		ps.mu.Unlock()
		if st == psBackoff {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("PubSub not in back-off (state %d)", st)
		}
		time.Sleep(time.Millisecond)
	}
}

// A connection killed server-side is replaced, every kind of subscription
// is restored, a "reconnected" notice marks the gap, and messages
// published afterwards reach the same PubSub, read with Receive or
// through a handler.
func TestPubSubReconnect(t *testing.T) {
	s := startServer(t, serverConfig{})
	for _, proto := range []int{2, 3} {
		t.Run("resp"+strconv.Itoa(proto), func(t *testing.T) {
			testkit.CheckLeaks(t)
			c := newTestClient(t, fastRetry(Options{Addr: s.Addr, Protocol: proto}))
			ctx := ctxT(t)
			ps, err := c.Subscribe(ctx, "ch")
			if err != nil {
				t.Fatal(err)
			}
			defer ps.Close()
			if err := ps.PSubscribe(ctx, "pat.*"); err != nil {
				t.Fatal(err)
			}
			if err := ps.SSubscribe(ctx, "sch"); err != nil {
				t.Fatal(err)
			}
			got := make(chan Message, 16)
			ph, err := c.NewPubSub(ctx, func(m Message) { got <- m })
			if err != nil {
				t.Fatal(err)
			}
			defer ph.Close()
			if err := ph.Subscribe(ctx, "ch"); err != nil {
				t.Fatal(err)
			}

			for round := 0; round < 3; round++ {
				if n := killPubSubs(t, c, ctx); n != 2 {
					t.Fatalf("round %d: killed %d pub/sub connections, want 2", round, n)
				}
				if m := receive(t, ps); m.Kind != "reconnected" || m.Payload == "" {
					t.Fatalf("round %d: after the kill: %+v", round, m)
				}
				select {
				case m := <-got:
					if m.Kind != "reconnected" {
						t.Fatalf("round %d: handler after the kill: %+v", round, m)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("round %d: handler not told of the reconnection", round)
				}
				p := strconv.Itoa(round)
				if n, err := c.Publish(ctx, "ch", "after"+p); err != nil || n != 2 {
					t.Fatalf("round %d: publish reached %d, %v", round, n, err)
				}
				c.Publish(ctx, "pat.x", "pat"+p)
				if _, err := c.Do(ctx, "SPUBLISH", "sch", "shard"+p); err != nil {
					t.Fatal(err)
				}
				want := []Message{
					{Kind: "message", Channel: "ch", Payload: "after" + p},
					{Kind: "pmessage", Pattern: "pat.*", Channel: "pat.x", Payload: "pat" + p},
					{Kind: "smessage", Channel: "sch", Payload: "shard" + p},
				}
				for _, w := range want {
					if m := receive(t, ps); m != w {
						t.Fatalf("round %d: received %+v, want %+v", round, m, w)
					}
				}
				if m := <-got; m != want[0] {
					t.Fatalf("round %d: handler got %+v", round, m)
				}
			}
			chs, pats := ps.Channels()
			if !slices.Equal(chs, []string{"ch"}) || !slices.Equal(pats, []string{"pat.*"}) {
				t.Fatalf("channels %v, patterns %v", chs, pats)
			}
			if err := ps.Ping(ctx); err != nil {
				t.Fatalf("ping after reconnection: %v", err)
			}
			if err := ps.Unsubscribe(ctx, "ch"); err != nil {
				t.Fatal(err)
			}
			if n := numSub(t, c, ctx, "ch"); n != 1 {
				t.Fatalf("%d subscribers to ch after one unsubscribed", n)
			}
			if err := ps.SUnsubscribe(ctx); err != nil {
				t.Fatal(err)
			}
			if r, err := c.Do(ctx, "SPUBLISH", "sch", "gone"); err != nil || r.Value().Int != 0 {
				t.Fatalf("spublish after sunsubscribe: %v, %v", r.String(), err)
			}
		})
	}
}

// While the server is down, the PubSub redials with back-off; Ping fails
// at once between attempts, Subscribe waits within its context, and when
// the server is back everything is restored, the waiting Subscribe
// included.
func TestPubSubServerRestart(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startServer(t, serverConfig{})
	c := newTestClient(t, fastRetry(Options{Addr: s.Addr}))
	ctx := ctxT(t)
	ps, err := c.Subscribe(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()

	s.kill()
	waitBackoff(t, ps)
	err = ps.Ping(ctx)
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Sent {
		t.Fatalf("ping while the server is down: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err = ps.Subscribe(short, "dropped")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("subscribe with a short context while down: %v", err)
	}
	subscribed := make(chan error, 1)
	go func() { subscribed <- ps.Subscribe(ctx, "new") }()
	// Redials go on, spaced by the back-off, not a tight loop. Two
	// connections redial (the PubSub's and the shared one), each waiting
	// at least half of 5 ms doubled per attempt, capped at 40 ms: of 18
	// more dials one made at least 9, so at least 8 whole waits passed,
	// 2.5+5+10+20+20+20+20+20 = 117.5 ms.
	d0 := c.Pool().Stats().Dials
	waiting := time.Now()
	testkit.WaitFor(t, "18 redials while the server is down", func() bool { return c.Pool().Stats().Dials-d0 >= 18 })
	if d := time.Since(waiting); d < 117*time.Millisecond {
		t.Fatalf("18 redials in %v while the server was down: the back-off allows no fewer than 117.5 ms", d)
	}
	select {
	case err := <-subscribed:
		t.Fatalf("subscribe returned while the server was down: %v", err)
	default:
	}

	s.start()
	if m := receive(t, ps); m.Kind != "reconnected" {
		t.Fatalf("after restart: %+v", m)
	}
	if err := <-subscribed; err != nil {
		t.Fatalf("subscribe made while down: %v", err)
	}
	// The shared connection, which publishes, has its own back-off.
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("client did not reconnect: %v", c.Ping(ctx))
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, ch := range []string{"old", "new"} {
		if n, err := c.Publish(ctx, ch, "hi "+ch); err != nil || n != 1 {
			t.Fatalf("publish to %s reached %d, %v", ch, n, err)
		}
		if m := receive(t, ps); m.Channel != ch || m.Payload != "hi "+ch {
			t.Fatalf("received %+v", m)
		}
	}
	// The subscription whose caller gave up was not sent.
	if n := numSub(t, c, ctx, "dropped"); n != 0 {
		t.Fatalf("abandoned subscription made: %d", n)
	}
	if err := ps.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// Close during the back-off stops the reconnection at once: waiting
// commands and Receive return ErrClosed, and no more dials are made. The
// same from Client.Close.
func TestPubSubCloseWhileReconnecting(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startServer(t, serverConfig{})
	c := newTestClient(t, fastRetry(Options{Addr: s.Addr}))
	ctx := ctxT(t)
	ps, err := c.Subscribe(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	ps2, err := c.Subscribe(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	s.kill()
	waitBackoff(t, ps)
	waitBackoff(t, ps2)

	pending := make(chan error, 1)
	go func() { pending <- ps.Subscribe(ctx, "c") }()
	received := make(chan error, 1)
	go func() {
		_, err := ps.Receive(ctx)
		received <- err
	}()
	time.Sleep(20 * time.Millisecond)
	ps.Close()
	for name, ch := range map[string]chan error{"subscribe": pending, "receive": received} {
		select {
		case err := <-ch:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("%s at Close: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still waiting 10 s after Close", name)
		}
	}
	if err := ps.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("ping after Close: %v", err)
	}

	// ps2 keeps redialing until the client closes.
	go func() {
		_, err := ps2.Receive(ctx)
		received <- err
	}()
	c.Close()
	select {
	case err := <-received:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("receive at Client.Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("receive still waiting 10 s after Client.Close")
	}
	d0 := c.Pool().Stats().Dials
	time.Sleep(100 * time.Millisecond)
	if d := c.Pool().Stats().Dials; d != d0 {
		t.Fatalf("%d dials after Close", d-d0)
	}
}

// A server that refuses the new connection's credentials ends the
// PubSub: Receive, Subscribe and Ping return a *ConnError with the
// server's error.
func TestPubSubReconnectRefused(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startServer(t, serverConfig{Extra: []string{"requirepass old"}})
	c := newTestClient(t, fastRetry(Options{Addr: s.Addr, Password: "old"}))
	ctx := ctxT(t)
	ps, err := c.Subscribe(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	if _, err := c.Do(ctx, "CONFIG", "SET", "requirepass", "new"); err != nil {
		t.Fatal(err)
	}
	killPubSubs(t, c, ctx)
	check := func(what string, err error) {
		t.Helper()
		var ce *ConnError
		var re *resp.Error
		if !errors.As(err, &ce) || !errors.As(err, &re) || re.Prefix() != "WRONGPASS" {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err = ps.Receive(ctx)
	check("receive", err)
	check("subscribe", ps.Subscribe(ctx, "b"))
	check("ping", ps.Ping(ctx))
}

// A server that refuses a resubscription (the user's ACL no longer allows
// the channel) ends the PubSub rather than leave it silently without the
// channel.
func TestPubSubResubscribeRefused(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startServer(t, serverConfig{Extra: []string{"user alice on >pw ~* &news.* +@all"}})
	admin := newTestClient(t, Options{Addr: s.Addr})
	c := newTestClient(t, fastRetry(Options{Addr: s.Addr, Username: "alice", Password: "pw"}))
	ctx := ctxT(t)
	ps, err := c.Subscribe(ctx, "news.a")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	if _, err := admin.Do(ctx, "ACL", "SETUSER", "alice", "resetchannels", "&sport.*"); err != nil {
		t.Fatal(err)
	}
	killPubSubs(t, admin, ctx) // Redis 7 has usually done it already
	_, err = ps.Receive(ctx)
	var re *resp.Error
	if !errors.As(err, &re) || re.Prefix() != "NOPERM" {
		t.Fatalf("receive: %v", err)
	}
}

// A subscription cut off by the loss of its connection, before the server
// confirmed it, is sent again on the next one: the caller sees success.
// Nothing had been confirmed, so there is no gap to report.
func TestPubSubInterruptedSubscribe(t *testing.T) {
	testkit.CheckLeaks(t)
	f := newCountingFakeServer(t, func(c net.Conn, n int) {
		r := bufio.NewReader(c)
		for {
			args, err := readCommand(r)
			if err != nil {
				return
			}
			switch {
			case args[0] == "SUBSCRIBE" && n == 1:
				return // hang up before confirming
			case args[0] == "SUBSCRIBE":
				c.Write([]byte("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"))
				c.Write([]byte("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n"))
			default:
				c.Write([]byte("+PONG\r\n"))
			}
		}
	})
	c := newTestClient(t, fastRetry(Options{Addr: f.Addr(), Protocol: 2}))
	ctx := ctxT(t)
	ps, err := c.Subscribe(ctx, "a")
	if err != nil {
		t.Fatalf("subscribe across a lost connection: %v", err)
	}
	defer ps.Close()
	if m := receive(t, ps); m != (Message{Kind: "message", Channel: "a", Payload: "hi"}) {
		t.Fatalf("received %+v", m)
	}
}

// A PubSub waiting to reconnect holds no goroutine: only a loop timer.
func TestPubSubReconnectHoldsNoGoroutine(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startServer(t, serverConfig{})
	c := newTestClient(t, fastRetry(Options{Addr: s.Addr}))
	ctx := ctxT(t)
	const n = 50
	pss := make([]*PubSub, n)
	for i := range pss {
		ps, err := c.Subscribe(ctx, "ch"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		defer ps.Close()
		pss[i] = ps
	}
	g0 := runtime.NumGoroutine()
	s.kill()
	for _, ps := range pss {
		waitBackoff(t, ps)
	}
	if g := runtime.NumGoroutine(); g-g0 >= n/2 {
		t.Fatalf("goroutines %d -> %d with %d PubSubs reconnecting", g0, g, n)
	}
}
