package egress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// trackedBody is a request body that counts its Closes. Closing it makes
// a Read that follows (or one blocked in wait) fail, as an io.Pipe does.
type trackedBody struct {
	r      io.Reader
	closes atomic.Int32
	closed chan struct{}
	once   sync.Once
}

func newTrackedBody(r io.Reader) *trackedBody {
	return &trackedBody{r: r, closed: make(chan struct{})}
}

func (b *trackedBody) Read(p []byte) (int, error) {
	select {
	case <-b.closed:
		return 0, io.ErrClosedPipe
	default:
	}
	return b.r.Read(p)
}

func (b *trackedBody) Close() error {
	b.closes.Add(1)
	b.once.Do(func() { close(b.closed) })
	return nil
}

// closedOnce checks, once the test and its leak check are over (so that no
// goroutine of the transport can still hold b), that b was closed exactly
// once. Call it before testkit.CheckLeaks: cleanups run in reverse.
func closedOnce(t *testing.T, name string, b *trackedBody) {
	t.Cleanup(func() {
		if n := b.closes.Load(); n != 1 {
			t.Errorf("%s closed %d times, want exactly once", name, n)
		}
	})
}

// requestBodyServer answers every request on a keep-alive connection by
// its path: /ok reads the body and echoes its length; /early answers 413
// before reading the body and closes; /refuse answers an Expect:
// 100-continue with 417 and no 100; /drop reads a request on a reused
// connection and closes without answering (a stale connection).
func requestBodyServer(t *testing.T) string {
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for n := 0; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			switch req.URL.Path {
			case "/early":
				io.WriteString(c, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				return
			case "/refuse":
				io.WriteString(c, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				return
			case "/drop":
				if n > 0 {
					io.Copy(io.Discard, req.Body)
					return
				}
			}
			b, err := io.ReadAll(req.Body)
			if err != nil {
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
		}
	})
	return addr
}

// TestReviewRequestBodyClosed: RoundTrip closes the request body exactly
// once whatever happens to the request (the http.RoundTripper contract,
// and what net/http does): sent whole, with its length or chunked; never
// sent because the server answered first; failed; rewound for a retry
// (the first body and the one GetBody made are each closed). A body left
// open leaks what it holds (a file, the writer of an io.Pipe blocked for
// ever).
func TestReviewRequestBodyClosed(t *testing.T) {
	addr := requestBodyServer(t)
	base := "http://" + addr
	payload := strings.Repeat("x", 3000)
	for _, tc := range []struct {
		name, path string
		chunked    bool
		expect     bool
		header     string // an invalid header value: the request is refused
		warm       bool   // a first request leaves a connection to reuse
		getBody    bool   // rewound: the first body sent, GetBody makes another
		oneShot    bool   // never with GetBody
		wantStatus int    // 0: an error
	}{
		{name: "sent with length", path: "/ok", wantStatus: 200},
		{name: "sent chunked", path: "/ok", chunked: true, wantStatus: 200},
		{name: "early response", path: "/early", wantStatus: 413},
		{name: "expect refused", path: "/refuse", expect: true, wantStatus: 417},
		{name: "invalid header", path: "/ok", header: "a\r\nb: c"},
		{name: "stale connection, no GetBody", path: "/drop", warm: true, oneShot: true},
		{name: "stale connection, rewound", path: "/drop", warm: true, getBody: true, wantStatus: 200},
	} {
		// A body with GetBody (in memory, for http.NewRequest) is sent from
		// the caller's goroutine; one without, from a goroutine of its own.
		for _, inMemory := range []bool{true, false} {
			if tc.getBody && !inMemory || tc.oneShot && inMemory {
				continue
			}
			name := tc.name + ", own goroutine"
			if inMemory {
				name = tc.name + ", caller's goroutine"
			}
			t.Run(name, func(t *testing.T) {
				first := newTrackedBody(strings.NewReader(payload))
				closedOnce(t, "the request body", first)
				var mu sync.Mutex
				var rewound []*trackedBody
				t.Cleanup(func() {
					mu.Lock()
					defer mu.Unlock()
					if tc.getBody && len(rewound) == 0 {
						t.Errorf("the request was not rewound")
					}
					for i, b := range rewound {
						if n := b.closes.Load(); n != 1 {
							t.Errorf("body %d from GetBody closed %d times, want exactly once", i+1, n)
						}
					}
				})
				testkit.CheckLeaks(t)
				tr := newTestTransport(t, Options{})
				if tc.warm {
					resp, err := tr.RoundTrip(mustRequest(t, "GET", base+"/warm"))
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				req, err := http.NewRequestWithContext(t.Context(), "PUT", base+tc.path, first)
				if err != nil {
					t.Fatal(err)
				}
				if !tc.chunked {
					req.ContentLength = int64(len(payload))
				}
				if tc.expect {
					req.Header.Set("Expect", "100-continue")
				}
				if tc.header != "" {
					req.Header.Set("X-Bad", tc.header)
				}
				if inMemory {
					req.GetBody = func() (io.ReadCloser, error) {
						b := newTrackedBody(strings.NewReader(payload))
						mu.Lock()
						rewound = append(rewound, b)
						mu.Unlock()
						return b, nil
					}
				}
				resp, err := tr.RoundTrip(req)
				if tc.wantStatus == 0 {
					if err == nil {
						resp.Body.Close()
						t.Fatalf("status %d, want an error", resp.StatusCode)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
				}
				// The contract allows the close to come after RoundTrip returns.
				testkit.WaitFor(t, "the request body to be closed", func() bool { return first.closes.Load() > 0 })
			})
		}
	}
}

// TestReviewRequestBodyClosedOnGetBodyError: a retry whose GetBody fails
// ends the request with GetBody's error, counted as a failure, with the
// body it had sent closed and the context watch released.
func TestReviewRequestBodyClosedOnGetBodyError(t *testing.T) {
	addr := requestBodyServer(t)
	first := newTrackedBody(strings.NewReader("payload"))
	closedOnce(t, "the request body", first)
	testkit.CheckLeaks(t)
	tr := newTestTransport(t, Options{})
	resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://"+addr+"/warm"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	var watchers atomic.Int32
	ctx := newWatchCtx(&watchers)
	req, _ := http.NewRequestWithContext(ctx, "PUT", "http://"+addr+"/drop", first)
	req.ContentLength = int64(len("payload"))
	noRewind := errors.New("cannot rewind")
	req.GetBody = func() (io.ReadCloser, error) { return nil, noRewind }
	_, err = tr.RoundTrip(req)
	if !errors.Is(err, noRewind) {
		t.Fatalf("error %v, want GetBody's", err)
	}
	if s := tr.Stats(); s.Failures != 1 {
		t.Errorf("Stats().Failures = %d, want 1", s.Failures)
	}
	if n := watchers.Load(); n != 0 {
		t.Errorf("%d context watches left registered after RoundTrip failed", n)
	}
}

// watchCtx is a context that is never done but has a Done channel, so
// that the transport watches it, and that counts the watches registered
// (context.AfterFunc uses a context's own AfterFunc method) and not yet
// stopped.
type watchCtx struct {
	context.Context // Background: no cancelCtx for context to find
	done            chan struct{}
	n               *atomic.Int32
}

func newWatchCtx(n *atomic.Int32) *watchCtx {
	return &watchCtx{Context: context.Background(), done: make(chan struct{}), n: n}
}

func (c *watchCtx) Done() <-chan struct{} { return c.done }

func (c *watchCtx) AfterFunc(func()) func() bool {
	c.n.Add(1)
	var once sync.Once
	return func() bool {
		stopped := false
		once.Do(func() { c.n.Add(-1); stopped = true })
		return stopped
	}
}

// TestReviewRequestCancelDuringUpload: cancelling a request whose body is
// being sent to a server that reads none of it (the socket full, the
// sender waiting for room) makes RoundTrip return at once with the
// context's error, closes the connection and the body, and leaves no
// goroutine pumping; from the caller's goroutine and from one of its own.
func TestReviewRequestCancelDuringUpload(t *testing.T) {
	for _, inMemory := range []bool{true, false} {
		t.Run(fmt.Sprintf("in memory %v", inMemory), func(t *testing.T) {
			body := newTrackedBody(zeroReader{})
			closedOnce(t, "the request body", body)
			testkit.CheckLeaks(t)
			stop := make(chan struct{})
			srv := testkit.NewServer(t, func(c net.Conn) { <-stop }) // reads nothing
			t.Cleanup(func() { close(stop) })                        // before the server closes
			tr := newTestTransport(t, Options{})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "PUT", "http://"+srv.Addr()+"/", body)
			if inMemory {
				req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("not rewound") }
			}
			done := make(chan error, 1)
			go func() {
				resp, err := tr.RoundTrip(req)
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()
			// The socket's buffers are full once bytes wait in the engine.
			testkit.WaitFor(t, "the upload to fill the socket", func() bool { return tr.Engine().Stats().Queued > 0 })
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("error %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("RoundTrip did not return after its context was cancelled")
			}
			testkit.WaitFor(t, "the connection to close", func() bool { return tr.Stats().Pool.Open == 0 })
			testkit.WaitFor(t, "the request body to be closed", func() bool { return body.closes.Load() > 0 })
		})
	}
}
