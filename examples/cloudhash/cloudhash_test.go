package cloudhash

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

func TestEndToEnd(t *testing.T) {
	for _, mode := range []Mode{Evented, Hybrid} {
		t.Run(mode.String(), func(t *testing.T) {
			testkit.CheckLeaks(t)
			se, err := engine.New(engine.Config{Loops: 2})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { se.Close() })
			s, err := Listen(se, "127.0.0.1:0", mode)
			if err != nil {
				t.Fatal(err)
			}
			ce, err := engine.New(engine.Config{Loops: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ce.Close() })
			c := NewClient(ce, s.Addr().String())
			t.Cleanup(func() { c.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			if err := c.Set(ctx, "greeting", "hello, world"); err != nil {
				t.Fatal(err)
			}
			if v, ok, err := c.Get(ctx, "greeting"); err != nil || !ok || v != "hello, world" {
				t.Fatalf("get = %q %v %v", v, ok, err)
			}
			if _, ok, err := c.Get(ctx, "nothing"); err != nil || ok {
				t.Fatalf("get missing = %v %v", ok, err)
			}
			if err := c.Set(ctx, "two words", "x"); err == nil {
				t.Fatal("bad key accepted")
			}
			// Sequential requests reuse one connection.
			for i := 0; i < 100; i++ {
				if _, _, err := c.Get(ctx, "greeting"); err != nil {
					t.Fatal(err)
				}
			}
			if st := c.Stats(); st.Dials != 1 || st.Reuses < 100 {
				t.Fatalf("sequential requests: %+v", st)
			}
			// Concurrent requests: a few connections, each reused.
			var wg sync.WaitGroup
			errs := make(chan error, 32*50)
			for g := 0; g < 32; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 50; i++ {
						k := "k" + strconv.Itoa(g) + "_" + strconv.Itoa(i)
						if err := c.Set(ctx, k, k+" value"); err != nil {
							errs <- err
							return
						}
						if v, _, err := c.Get(ctx, k); err != nil || v != k+" value" {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			st := c.Stats()
			if st.Dials > 33 || st.Reuses < st.Requests-st.Dials {
				t.Fatalf("concurrent requests: %+v", st)
			}
			t.Logf("%s: %d requests over %d connections", mode, st.Requests, st.Dials)

			// Pipelined requests on a raw connection come back in order,
			// and a bad command gets an error line.
			rc, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			rc.Write([]byte("SET a 1\nSET b 2\nGET a\nget b\nGET zz\nFLY me\n"))
			r := bufio.NewReader(rc)
			for _, want := range []string{"OK", "OK", "VALUE 1", "VALUE 2", "NIL", "ERR unknown command"} {
				rc.SetReadDeadline(time.Now().Add(5 * time.Second))
				line, err := r.ReadString('\n')
				if err != nil || strings.TrimSpace(line) != want {
					t.Fatalf("pipelined reply %q, %v; want %q", line, err, want)
				}
			}
			// An overlong line: an error, then the server hangs up.
			rc.Write([]byte(strings.Repeat("x", MaxLine+10)))
			rc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "ERR ") {
				t.Fatalf("overlong line: %q", line)
			}
			s.Close()
		})
	}
}

// A request whose context ends gives up at once, and its connection is
// not reused (the late reply would confuse the next request).
func TestContext(t *testing.T) {
	testkit.CheckLeaks(t)
	silent := testkit.NewServer(t, nil) // never answers
	e, _ := engine.New(engine.Config{Loops: 1})
	c := NewClient(e, silent.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := c.Get(ctx, "k"); err != context.DeadlineExceeded {
		t.Fatalf("get from a silent server: %v", err)
	}
	c.Close()
	e.Close()
}
