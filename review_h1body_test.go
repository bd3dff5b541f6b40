package egress

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

// Review tests of the HTTP/1.1 response-body path of RoundTrip: direct
// reads (h1direct.go), the body pipe (body.go) and what ends them.

// TestReviewDirectResetCloseDelimited: a body delimited by the
// connection's close that the server cuts with a reset (RST), not a FIN,
// is truncated, and its reader must hear so: io.EOF would pass a partial
// download off as complete (net/http returns the reset). The server
// sends more than the loop reads before lending the socket, so the
// reader reads it directly.
func TestReviewDirectResetCloseDelimited(t *testing.T) {
	testkit.CheckLeaks(t)
	resetCloseDelimited(t, newTestTransport(t, Options{}), true)
}

// TestReviewLoopResetCloseDelimited is the same through the loop (the
// portable backend lends no socket): h1conn.onClose takes any close as
// the end of a close-delimited body.
func TestReviewLoopResetCloseDelimited(t *testing.T) {
	t.Skip("bug: h1conn.onClose ends a close-delimited body cleanly on a reset; see the review report")
	testkit.CheckLeaks(t)
	e, err := engine.New(engine.Config{Loops: 1, Backend: engine.BackendNet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	resetCloseDelimited(t, newTestTransport(t, Options{Engine: e}), false)
}

func resetCloseDelimited(t *testing.T, tr *Transport, direct bool) {
	const sent = 256 << 10
	body := bodyPattern(sent)
	read := make(chan struct{})
	srv := testkit.NewServer(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
		if _, err := c.Write(body); err != nil {
			return
		}
		<-read // the client has every byte sent: the reset cannot overtake them
		c.(*net.TCPConn).SetLinger(0)
	})
	resp, err := tr.RoundTrip(ctxRequest(t, context.Background(), "http://"+srv.Addr()+"/"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, sent)
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatal("the body's bytes differ")
	}
	if wentDirect(t, resp.Body) != direct {
		t.Fatalf("read directly: %v, want %v", !direct, direct)
	}
	close(read)
	n, err := resp.Body.Read(make([]byte, 64<<10))
	if n != 0 || !errors.Is(err, ErrConnClosed) {
		t.Fatalf("after a reset: %d bytes, %v; want ErrConnClosed, not the body's end", n, err)
	}
}

// reviewServer answers GET /ID?n=N&f=F with N bytes that spell ID (so
// that a response read as another's shows), framed by Content-Length
// (f=length), chunks with a trailer (f=chunked) or the close (f=close).
// With stall=1 it sends half the body and then waits for the client to
// close the connection. Requests on a connection must each parse: a
// client that reused a connection with a response unread would send its
// next request after bytes the server never sees as one, or read them as
// its own response.
func reviewServer(t *testing.T) *testkit.Server {
	return testkit.NewServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			q := req.URL.Query()
			var n int
			fmt.Sscan(q.Get("n"), &n)
			body := wholePattern(req.URL.Path, n)
			w := bufio.NewWriterSize(c, 64<<10)
			io.WriteString(w, "HTTP/1.1 200 OK\r\n")
			framing := q.Get("f")
			switch framing {
			case "chunked":
				io.WriteString(w, "Transfer-Encoding: chunked\r\n\r\n")
			case "close":
				io.WriteString(w, "Connection: close\r\n\r\n")
			default:
				fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", n)
			}
			write := func(p []byte) {
				if framing != "chunked" {
					w.Write(p)
					return
				}
				for len(p) > 0 {
					k := min(len(p), 3000)
					fmt.Fprintf(w, "%x\r\n", k)
					w.Write(p[:k])
					io.WriteString(w, "\r\n")
					p = p[k:]
				}
			}
			if q.Get("stall") == "1" {
				write(body[:n/2])
				w.Flush()
				io.Copy(io.Discard, br) // until the client gives up
				return
			}
			write(body)
			if framing == "chunked" {
				io.WriteString(w, "0\r\nX-Id: "+req.URL.Path+"\r\n\r\n")
			}
			if w.Flush() != nil || framing == "close" {
				return
			}
		}
	})
}

// errOK reports whether err is one a body may end with when its reader
// closed it, or its context ended, part way.
func interruptedErr(err error) bool {
	return errors.Is(err, ErrBodyClosed) || errors.Is(err, context.Canceled)
}
