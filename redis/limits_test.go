package redis

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/resp"
)

// TestHostileReplyLimits: a server answers three commands in flight with a
// reply beyond the client's Limits on a whole reply (resp.Limits
// MaxReplyLen and MaxReplyValues): an array that never ends, a bulk
// string header announcing more than the reply may hold (and nothing
// after it), or arrays of the largest size nested three deep (with the
// default limits). The client must close the connection as soon as the
// limit is known to be passed, having read no more than the limit and a
// read buffer or so, and fail every command in flight with a *ConnError
// wrapping the *resp.LimitError; its next command goes out on a new
// connection and works.
func TestHostileReplyLimits(t *testing.T) {
	const (
		most  = 64 << 20 // what the server sends at most
		bound = 2 << 20  // what the client may read of it
	)
	elem := "$1024\r\n" + strings.Repeat("x", 1024) + "\r\n"
	for _, tc := range []struct {
		name        string
		lim         resp.Limits
		first, more string // the reply: first, then more over and over
		limit       string // the LimitError's
	}{
		{"endless array", resp.Limits{MaxReplyLen: 1 << 20}, "*1000000\r\n", strings.Repeat(elem, 64), "reply length"},
		{"bulk header alone", resp.Limits{MaxReplyLen: 1 << 20}, "$2097152\r\n", "", "reply length"},
		{"nested counts at the default limits", resp.Limits{}, strings.Repeat("*16777216\r\n", 3), "", "reply values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			wrote := make(chan int64, 1)
			f := testkit.NewServer(t, func(c net.Conn) {
				r := bufio.NewReader(c)
				gets := 0
				for {
					args, err := readCommand(r)
					if err != nil {
						return
					}
					if args[0] != "GET" {
						c.Write([]byte("+PONG\r\n"))
						continue
					}
					if gets++; gets < 3 {
						continue
					}
					// Three GETs in flight: the first one's reply.
					n, err := c.Write([]byte(tc.first))
					total := int64(n)
					for err == nil && tc.more != "" && total < most {
						n, err = c.Write([]byte(tc.more))
						total += int64(n)
					}
					wrote <- total
					io.Copy(io.Discard, c) // until the client hangs up
					return
				}
			})
			c := newTestClient(t, Options{Addr: f.Addr(), Protocol: 2, Limits: tc.lim})
			in0 := c.Engine().Stats().BytesIn
			errs := make(chan error, 3)
			for _, k := range []string{"a", "b", "c"} {
				if err := c.DoAsync(context.Background(), func(_ *resp.Value, err error) { errs <- err }, "GET", k); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 3; i++ {
				select {
				case err := <-errs:
					var ce *ConnError
					var le *resp.LimitError
					if !errors.As(err, &ce) || !ce.Sent || !errors.As(err, &le) || le.Limit != tc.limit || !errors.Is(err, resp.ErrLimit) {
						t.Fatalf("command %d in flight: %v, want a *ConnError (sent) wrapping the %s limit", i, err, tc.limit)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%d of 3 commands in flight still waiting 10 s into a reply beyond the limits", 3-i)
				}
			}
			if in := c.Engine().Stats().BytesIn - in0; in > bound {
				t.Errorf("the client read %d bytes of the reply before refusing it, more than %d", in, bound)
			}
			select {
			case n := <-wrote:
				if n >= most {
					t.Errorf("the server wrote all of its %d bytes: the client took them", n)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the server's writes did not end 10 s after the client refused the reply")
			}
			if err := c.Ping(ctxT(t)); err != nil {
				t.Fatalf("ping after the refused reply: %v", err)
			}
		})
	}
}
