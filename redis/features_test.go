package redis

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
	"github.com/egress-go/egress/tlsconn"
)

func TestPubSub(t *testing.T) {
	eachProto(t, func(t *testing.T, c *Client, ctx context.Context, k string) {
		ps, err := c.Subscribe(ctx, k+"a", k+"b")
		if err != nil {
			t.Fatal(err)
		}
		defer ps.Close()
		if err := ps.PSubscribe(ctx, k+"p.*"); err != nil {
			t.Fatal(err)
		}
		ch, pats := ps.Channels()
		slices.Sort(ch)
		if !slices.Equal(ch, []string{k + "a", k + "b"}) || !slices.Equal(pats, []string{k + "p.*"}) {
			t.Fatalf("channels %v, patterns %v", ch, pats)
		}
		if err := ps.Ping(ctx); err != nil {
			t.Fatalf("ping in subscribed mode: %v", err)
		}
		if n, err := c.Publish(ctx, k+"a", "hello"); err != nil || n != 1 {
			t.Fatalf("publish = %d, %v", n, err)
		}
		c.Publish(ctx, k+"p.x", "pat")
		m, err := ps.Receive(ctx)
		if err != nil || m != (Message{Kind: "message", Channel: k + "a", Payload: "hello"}) {
			t.Fatalf("receive = %+v, %v", m, err)
		}
		m, err = ps.Receive(ctx)
		if err != nil || m != (Message{Kind: "pmessage", Pattern: k + "p.*", Channel: k + "p.x", Payload: "pat"}) {
			t.Fatalf("receive = %+v, %v", m, err)
		}
		if err := ps.Unsubscribe(ctx, k+"a"); err != nil {
			t.Fatal(err)
		}
		if n, _ := c.Publish(ctx, k+"a", "gone"); n != 0 {
			t.Fatalf("publish after unsubscribe reached %d", n)
		}
		if err := ps.Unsubscribe(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ps.PUnsubscribe(ctx); err != nil {
			t.Fatal(err)
		}
		if ch, pats := ps.Channels(); len(ch)+len(pats) != 0 {
			t.Fatalf("left subscribed: %v %v", ch, pats)
		}
		// SUBSCRIBE on the shared connections is refused.
		if _, err := c.Do(ctx, "SUBSCRIBE", "x"); !errors.Is(err, ErrStateful) {
			t.Fatalf("subscribe on shared: %v", err)
		}
		ps.Close()
		if _, err := ps.Receive(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("receive after close: %v", err)
		}

		// Callback form, many messages.
		var got atomic.Int64
		done := make(chan struct{})
		ps2, err := c.NewPubSub(ctx, func(m Message) {
			if got.Add(1) == 500 {
				close(done)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer ps2.Close()
		if err := ps2.Subscribe(ctx, k+"cb"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 500; i++ {
			c.DoAsync(context.Background(), func(*resp.Value, error) {}, "PUBLISH", k+"cb", strconv.Itoa(i))
		}
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("got %d of 500 messages", got.Load())
		}
	})
}

func TestBLPop(t *testing.T) {
	eachProto(t, func(t *testing.T, c *Client, ctx context.Context, k string) {
		c.Del(ctx, k)
		// While a BLPOP blocks on the server, the shared connection keeps
		// serving; then a push from elsewhere serves the BLPOP. The BLPOP
		// is known to block once the server counts it (asked over the
		// shared connection, which must answer meanwhile).
		type popped struct {
			key, v string
			err    error
		}
		popc := make(chan popped, 1)
		go func() {
			key, v, err := c.BLPop(ctx, 10*time.Second, k+"other", k)
			popc <- popped{key, v, err}
		}()
		testkit.WaitFor(t, "the server to block on the BLPOP", func() bool { return blockedClients(t, c, ctx, "") >= 1 })
		for i := 0; i < 10; i++ {
			if err := c.Ping(ctx); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case p := <-popc:
			t.Fatalf("the pings waited for the BLPOP, which returned %q %q %v", p.key, p.v, p.err)
		default:
		}
		if _, err := c.RPush(ctx, k, "x"); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-popc:
			if p.err != nil || p.key != k || p.v != "x" {
				t.Fatalf("blpop = %q %q %v", p.key, p.v, p.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the push did not serve the blocked BLPOP within 10 s")
		}
		// Timeout: ErrNil, and not before the timeout (the server counts
		// it from when the command arrives, after start).
		start := time.Now()
		if _, _, err := c.BLPop(ctx, 300*time.Millisecond, k); !errors.Is(err, ErrNil) {
			t.Fatalf("blpop timeout: %v", err)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Fatalf("blpop returned after %v", d)
		}
		// The context ends first: fails with its error at once, and the
		// connection blocked on the server is closed, not reused.
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_, _, err := c.BLPop(cctx, 0, k)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("blpop with ctx deadline: %v", err)
		}
		// Idle dedicated connections are reused.
		before := c.Pool().Stats().Dials
		for i := 0; i < 5; i++ {
			if _, _, err := c.BLPop(ctx, 10*time.Millisecond, k); !errors.Is(err, ErrNil) {
				t.Fatal(err)
			}
		}
		if d := c.Pool().Stats().Dials - before; d > 1 {
			t.Fatalf("%d dials for 5 sequential BLPOPs", d)
		}
		// Async BLPOP.
		res := make(chan string, 1)
		if err := c.DoAsync(ctx, func(v *resp.Value, err error) {
			ss, _ := AsStrings(v)
			res <- slices.Concat(ss, []string{errString(err)})[1]
		}, "BLPOP", k, "5"); err != nil {
			t.Fatal(err)
		}
		c.RPush(ctx, k, "y")
		if v := <-res; v != "y" {
			t.Fatalf("async blpop: %q", v)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestAuth(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startServer(t, serverConfig{Extra: []string{
		"requirepass topsecret",
		"user alice on >alicepw ~alice:* &* +@all",
	}})
	ctx := ctxT(t)
	for _, proto := range []int{2, 3} {
		// requirepass (the default user).
		c := newTestClient(t, Options{Addr: s.Addr, Password: "topsecret", Protocol: proto, DB: 3, ClientName: "egress-test"})
		if err := c.Set(ctx, "k", "v", 0); err != nil {
			t.Fatal(err)
		}
		r, err := c.Do(ctx, "CLIENT", "INFO")
		if err != nil {
			t.Fatal(err)
		}
		info, _ := r.Text()
		if !containsAll(info, "db=3", "name=egress-test", "resp="+strconv.Itoa(proto)) {
			t.Fatalf("client info: %s", info)
		}
		// ACL user: allowed on its keys only.
		a := newTestClient(t, Options{Addr: s.Addr, Username: "alice", Password: "alicepw", Protocol: proto})
		if err := a.Set(ctx, "alice:x", "1", 0); err != nil {
			t.Fatal(err)
		}
		err = a.Set(ctx, "bob:x", "1", 0)
		var re *resp.Error
		if !errors.As(err, &re) || re.Prefix() != "NOPERM" {
			t.Fatalf("alice writing bob's key: %v", err)
		}
	}
	// Wrong credentials: every command fails with a *ConnError carrying
	// the server's error; nothing hangs.
	for _, o := range []Options{
		{Addr: s.Addr, Password: "wrong"},
		{Addr: s.Addr, Password: "wrong", Protocol: 2},
		{Addr: s.Addr, Username: "alice", Password: "wrong"},
		{Addr: s.Addr}, // none
	} {
		c, err := NewClient(o)
		if err != nil {
			t.Fatal(err)
		}
		var re *resp.Error
		var ce *ConnError
		err = c.Ping(ctx)
		if !errors.As(err, &ce) || ce.Sent || !errors.As(err, &re) {
			t.Fatalf("%+v: %v", o, err)
		}
		if p := re.Prefix(); p != "WRONGPASS" && p != "NOAUTH" && p != "ERR" {
			t.Fatalf("%+v: %v", o, err)
		}
		c.Close()
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		found := false
		for i := 0; i+len(x) <= len(s); i++ {
			if s[i:i+len(x)] == x {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestTLS(t *testing.T) {
	testkit.CheckLeaks(t)
	cert := newTestCert(t)
	s := startServer(t, serverConfig{TLS: true, TLSCert: cert, Extra: []string{"requirepass pw"}})
	ctx := ctxT(t)
	o, err := ParseURL("rediss://:pw@" + s.Addr + "/1")
	if err != nil {
		t.Fatal(err)
	}
	o.TLS.RootCAsPEM = cert.CertPEM
	c := newTestClient(t, o)
	if err := c.Set(ctx, "k", "over tls", 0); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k"); err != nil || v != "over tls" {
		t.Fatalf("get = %q, %v", v, err)
	}
	// Large values cross many TLS records.
	big := string(make([]byte, 3<<20))
	if err := c.Set(ctx, "big", big, 0); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "big"); err != nil || v != big {
		t.Fatalf("big get: %d bytes, %v", len(v), err)
	}
	// Blocking commands use dedicated TLS connections.
	if _, _, err := c.BLPop(ctx, 10*time.Millisecond, "list"); !errors.Is(err, ErrNil) {
		t.Fatal(err)
	}
	// Without the CA the certificate is refused.
	bad, err := NewClient(Options{Addr: s.Addr, Password: "pw", TLS: &tlsconn.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	var ve *tlsconn.VerifyError
	if err := bad.Ping(ctx); !errors.As(err, &ve) {
		t.Fatalf("unverified server: %v", err)
	}
}

func TestContextTimeout(t *testing.T) {
	eachProto(t, func(t *testing.T, c *Client, ctx context.Context, k string) {
		// DEBUG SLEEP holds the server for a second; commands queued
		// behind it on the shared connection (DoAsync queues it first)
		// time out at once, before the server answers anything, and
		// their replies, when they come, are discarded.
		slept := make(chan error, 1)
		if err := c.DoAsync(ctx, func(_ *resp.Value, err error) { slept <- err }, "DEBUG", "SLEEP", "1"); err != nil {
			t.Fatal(err)
		}
		// Async: the callback gets the context's error, once.
		var calls atomic.Int32
		errc := make(chan error, 2)
		actx, acancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer acancel()
		if err := c.DoAsync(actx, func(v *resp.Value, err error) {
			calls.Add(1)
			errc <- err
		}, "ECHO", "late too"); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err := c.Echo(cctx, "late")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("echo with deadline: %v", err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("async with deadline: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the async callback did not run within 10 s")
		}
		select {
		case err := <-slept:
			t.Fatalf("the deadlines waited for the server: DEBUG SLEEP had answered (%v)", err)
		default:
		}
		// The pipeline is still in step.
		for i := 0; i < 20; i++ {
			s := strconv.Itoa(i)
			if v, err := c.Echo(ctx, s); err != nil || v != s {
				t.Fatalf("echo %s = %q, %v", s, v, err)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("callback ran %d times", n)
		}
	})
}

// blockedClients returns how many connections the server has blocked in a
// command such as BLPOP (CLIENT LIST, flag b), of those named name when
// name is not empty, asked over c's shared connection.
func blockedClients(t *testing.T, c *Client, ctx context.Context, name string) int {
	t.Helper()
	r, err := c.Do(ctx, "CLIENT", "LIST")
	if err != nil {
		t.Fatal(err)
	}
	list, err := r.Text()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		if strings.Contains(fields["flags"], "b") && (name == "" || fields["name"] == name) {
			n++
		}
	}
	return n
}

func TestStatefulRefused(t *testing.T) {
	s := sharedServer(t)
	testkit.CheckLeaks(t)
	c := newTestClient(t, Options{Addr: s.Addr})
	ctx := ctxT(t)
	for _, cmd := range [][]string{{"select", "1"}, {"WATCH", "k"}, {"client", "reply", "off"}, {"MONITOR"}, {"psubscribe", "x"}, {"HELLO", "2"}} {
		if _, err := c.Do(ctx, cmd...); !errors.Is(err, ErrStateful) {
			t.Errorf("%v: %v", cmd, err)
		}
	}
	if _, err := c.Do(ctx); err == nil {
		t.Error("empty command accepted")
	}
	// On a Conn, SELECT works and the connection is not reused after.
	conn, err := c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Do(ctx, "SELECT", "5"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if _, err := conn.Do(ctx, "PING"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	conn, err = c.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r, _ := conn.Do(ctx, "CLIENT", "INFO")
	if info, _ := r.Text(); !containsAll(info, "db=0") {
		t.Fatalf("dirty connection reused: %s", info)
	}
}

func TestManyGoroutines(t *testing.T) {
	eachProto(t, func(t *testing.T, c *Client, ctx context.Context, k string) {
		const goroutines, each = 1000, 10
		var wg sync.WaitGroup
		var bad atomic.Int64
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					key := k + ":" + strconv.Itoa(g) + ":" + strconv.Itoa(i)
					switch i % 3 {
					case 0:
						if v, err := c.Echo(ctx, key); err != nil || v != key {
							bad.Add(1)
						}
					case 1:
						if err := c.Set(ctx, key, key+"!", time.Minute); err != nil {
							bad.Add(1)
						} else if v, err := c.Get(ctx, key); err != nil || v != key+"!" {
							bad.Add(1)
						}
					default:
						if n, err := c.IncrBy(ctx, key, int64(g)); err != nil || n != int64(g) {
							bad.Add(1)
						}
					}
				}
			}()
		}
		wg.Wait()
		if n := bad.Load(); n != 0 {
			t.Fatalf("%d mismatched or failed replies", n)
		}
		// And 10,000 through the callback API, matched by content.
		var done sync.WaitGroup
		for i := 0; i < 10000; i++ {
			want := strconv.Itoa(i)
			done.Add(1)
			if err := c.DoAsync(context.Background(), func(v *resp.Value, err error) {
				if s, _ := AsString(v); err != nil || s != want {
					bad.Add(1)
				}
				done.Done()
			}, "ECHO", want); err != nil {
				t.Fatal(err)
			}
		}
		done.Wait()
		if n := bad.Load(); n != 0 {
			t.Fatalf("%d mismatched async replies", n)
		}
		c.Do(ctx, "FLUSHDB")
	})
}

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Options
	}{
		{"redis://localhost", Options{Addr: "localhost:6379"}},
		{"redis://:pw@h:7000/3", Options{Addr: "h:7000", Password: "pw", DB: 3}},
		{"redis://u:pw@h?db=2&protocol=2&client_name=x&dial_timeout=2s&conns=3", Options{Addr: "h:6379", Username: "u", Password: "pw", DB: 2, Protocol: 2, ClientName: "x", DialTimeout: 2 * time.Second, Conns: 3}},
		{"redis://pw@[::1]:6380", Options{Addr: "[::1]:6380", Password: "pw"}},
		{"redis://h?read_timeout=250ms", Options{Addr: "h:6379", ReadTimeout: 250 * time.Millisecond}},
		{"redis://h?read_timeout=-1s", Options{Addr: "h:6379", ReadTimeout: -time.Second}},
	} {
		got, err := ParseURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v", tc.in, got, err)
		}
	}
	o, err := ParseURL("rediss://h")
	if err != nil || o.TLS == nil || o.Addr != "h:6379" {
		t.Errorf("rediss: %+v, %v", o, err)
	}
	for _, bad := range []string{"http://h", "redis://h/x", "redis://h?bogus=1", "redis://h?db=x", "redis://h?read_timeout=3"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
