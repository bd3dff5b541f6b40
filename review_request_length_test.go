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

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

// sentWatch is what the test learns of the request being written:
// its round trip, its connection and the length of its head.
type sentWatch struct {
	mu      sync.Mutex
	rt      *roundTrip
	c       *engine.Conn
	base    int64 // what the connection had sent before (it may be reused)
	headLen int
}

func (w *sentWatch) set(hc *h1conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rt == nil {
		s := hc.c.Stats()
		w.rt, w.c, w.base, w.headLen = hc.x.snk.(*roundTrip), hc.c, s.BytesOut+s.Queued, len(hc.wbuf)
	}
}

// bodyWritten reports whether n body bytes have gone to the connection.
func (w *sentWatch) bodyWritten(n int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.c.Stats()
	return s.BytesOut+s.Queued-w.base >= int64(w.headLen+n)
}

func (w *sentWatch) finished() bool {
	w.mu.Lock()
	rt := w.rt
	w.mu.Unlock()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.finished
}

// longerBody gives the declared length in its first Read, then extra
// bytes. If by then the declared bytes have all gone out (nothing waited
// for the body to say it had ended), it first waits for the exchange to
// end: the server, which has the request whole, answers it.
type longerBody struct {
	w        *sentWatch
	declared int
	reads    int
}

func (b *longerBody) Read(p []byte) (int, error) {
	b.reads++
	switch b.reads {
	case 1:
		return copy(p, strings.Repeat("d", b.declared)), nil
	case 2:
		if b.w.bodyWritten(b.declared) {
			for deadline := time.Now().Add(10 * time.Second); !b.w.finished() && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
		return copy(p, "extra"), nil
	}
	return 0, io.EOF
}

// TestReviewRequestBodyLengthMismatch: a request body that does not
// match its ContentLength fails the request with an error that says so,
// as net/http fails it, and the connection is not used again. A body
// longer than declared used to fail only if its extra bytes came in the
// same Read as the last declared ones: given in a Read of their own, the
// declared bytes went out first, the server answered, and RoundTrip
// returned that answer; the extra bytes were lost without a word. The
// last declared bytes now wait for the body to say it has ended.
func TestReviewRequestBodyLengthMismatch(t *testing.T) {
	testkit.CheckLeaks(t)
	var whole atomic.Int32 // requests to /mismatch the server read whole
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			b, err := io.ReadAll(req.Body)
			if err != nil {
				return
			}
			if req.URL.Path == "/mismatch" {
				whole.Add(1)
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
		}
	})
	readErr := errors.New("the body's source failed")
	// Each case watches its own request, the first written after it began.
	var watch atomic.Pointer[sentWatch]
	testHookBeforeRequestWrite = func(hc *h1conn) {
		if w := watch.Load(); w != nil {
			w.set(hc)
		}
	}
	t.Cleanup(func() { testHookBeforeRequestWrite = nil })
	tr := newTestTransport(t, Options{})
	for _, tc := range []struct {
		name    string
		body    func(w *sentWatch) io.Reader
		cl      int64
		wantErr string
		wantIs  error
	}{
		{name: "longer, in a Read of its own", body: func(w *sentWatch) io.Reader { return &longerBody{w: w, declared: 10} }, cl: 10,
			wantErr: "longer than its Content-Length 10"},
		{name: "longer, in the same Read", body: func(*sentWatch) io.Reader { return strings.NewReader("0123456789abc") }, cl: 10,
			wantErr: "longer than its Content-Length 10"},
		{name: "shorter", body: func(*sentWatch) io.Reader { return strings.NewReader("01234") }, cl: 10,
			wantErr: "was 5 bytes, Content-Length said 10"},
		{name: "read error", body: func(*sentWatch) io.Reader { return io.MultiReader(strings.NewReader("01234"), &errReader{readErr}) }, cl: 10,
			wantIs: readErr},
	} {
		for _, inMemory := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, in memory %v", tc.name, inMemory), func(t *testing.T) {
				// The context bounds the test should the request hang.
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				wholeBefore := whole.Load()
				w := &sentWatch{}
				watch.Store(w)
				req, _ := http.NewRequestWithContext(ctx, "PUT", "http://"+addr+"/mismatch", io.NopCloser(tc.body(w)))
				req.ContentLength = tc.cl
				if inMemory {
					req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("not rewound") }
				}
				resp, err := tr.RoundTrip(req)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					t.Fatalf("succeeded: the server answered %q", b)
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) || tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) || ctx.Err() != nil {
					t.Fatalf("error %v, want one that says %q / wraps %v", err, tc.wantErr, tc.wantIs)
				}
				if n := whole.Load() - wholeBefore; n != 0 {
					t.Fatalf("the server read %d such requests whole", n)
				}
				// The connection went with the request: the next one dials.
				before := tr.Stats().Pool.Dials
				resp, err = tr.RoundTrip(mustRequest(t, "GET", "http://"+addr+"/next"))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if n := tr.Stats().Pool.Dials - before; n != 1 {
					t.Fatalf("the next request opened %d connections, want 1: the failed one's was used again", n)
				}
			})
		}
	}
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }
