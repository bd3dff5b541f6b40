package egress

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// headGatedBody is an endless request body of 1 KiB reads that follows
// its round trip: a few reads, then none until the response head has
// reached the round trip, then one, then none until RoundTrip has
// returned (or a bound has passed: gaveUp), then the end.
type headGatedBody struct {
	rt       *atomic.Pointer[roundTrip]
	returned chan struct{}
	reads    atomic.Int32 // read by the test; the pump may be another goroutine
	afterHd  int
	gaveUp   atomic.Bool
}

func (b *headGatedBody) headIn() bool {
	rt := b.rt.Load()
	if rt == nil {
		return false
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.resp != nil
}

func (b *headGatedBody) Read(p []byte) (int, error) {
	if b.reads.Add(1) > 8 {
		for deadline := time.Now().Add(10 * time.Second); !b.headIn(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				return 0, io.ErrUnexpectedEOF
			}
		}
		if b.afterHd++; b.afterHd > 1 {
			select {
			case <-b.returned:
			case <-time.After(10 * time.Second):
				b.gaveUp.Store(true)
			}
			return 0, io.EOF
		}
	}
	n := min(len(p), 1024)
	clear(p[:n])
	return n, nil
}

// TestReviewRequestEarlyResponseDelivered: a server that answers before
// it has the whole request body (a 200 that streams while it reads the
// upload, or a refusal) has its response returned by RoundTrip as soon
// as the head is in, as net/http returns it, while the rest of the body
// goes on being sent. RoundTrip used to go on sending the body for as
// long as the connection took it, and return only at the body's end: a
// caller whose body waits for the response (full duplex) waited for
// ever.
func TestReviewRequestEarlyResponseDelivered(t *testing.T) {
	testkit.CheckLeaks(t)
	var got atomic.Int64
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"); err != nil {
			return
		}
		n, err := io.Copy(io.Discard, req.Body)
		got.Store(n)
		if err == nil {
			io.WriteString(c, "0\r\n\r\n")
		}
	})
	var rtp atomic.Pointer[roundTrip]
	testHookBeforeRequestWrite = func(hc *h1conn) { rtp.CompareAndSwap(nil, hc.x.snk.(*roundTrip)) }
	t.Cleanup(func() { testHookBeforeRequestWrite = nil })

	tr := newTestTransport(t, Options{})
	body := &headGatedBody{rt: &rtp, returned: make(chan struct{})}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+addr+"/", io.NopCloser(body))
	// As if in memory: the body goes from the caller's goroutine, which
	// must leave it once the head is in.
	req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("not rewound") }
	resp, err := tr.RoundTrip(req)
	close(body.returned)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body.gaveUp.Load() {
		t.Fatal("RoundTrip returned the response only once the request body had ended")
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "hello" {
		t.Fatalf("response body %q, %v", b, err)
	}
	// Every read but the last gave 1 KiB.
	if want := int64(1024 * (body.reads.Load() - 1)); got.Load() != want {
		t.Fatalf("the server read %d bytes of the request body, want %d", got.Load(), want)
	}
}

// TestReviewRequestFullDuplex: a request body that waits for the
// response (here each piece waits for the server's answer to the one
// before) works as with net/http: RoundTrip returns the response while
// the body is blocked in Read, since that Read is not on the caller's
// goroutine. The server answers each piece of the upload as it reads it.
func TestReviewRequestFullDuplex(t *testing.T) {
	testkit.CheckLeaks(t)
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
			return
		}
		buf := make([]byte, 64)
		for {
			n, err := req.Body.Read(buf)
			if n > 0 {
				if _, err := fmt.Fprintf(c, "%x\r\npong-%s\r\n", n+5, buf[:n]); err != nil {
					return
				}
			}
			if err == io.EOF {
				io.WriteString(c, "0\r\n\r\n")
				return
			}
			if err != nil {
				return
			}
		}
	})
	tr := newTestTransport(t, Options{})
	pr, pw := io.Pipe()
	defer pr.Close()
	// The first piece goes before RoundTrip is called, as a client would
	// start a stream; the pipe holds it until the transport reads it.
	go pw.Write([]byte("1"))
	done := make(chan *http.Response, 1)
	fail := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+addr+"/", pr)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			fail <- err
			return
		}
		done <- resp
	}()
	var resp *http.Response
	select {
	case resp = <-done:
	case err := <-fail:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		pw.CloseWithError(errors.New("test gave up"))
		t.Fatal("RoundTrip did not return the response while the request body waited for it")
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := 1; i <= 3; i++ {
		want := fmt.Sprintf("pong-%d", i)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
		if i < 3 {
			if _, err := fmt.Fprintf(pw, "%d", i+1); err != nil {
				t.Fatal(err)
			}
		}
	}
	pw.Close()
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the last piece: %q, %v", rest, err)
	}
}
