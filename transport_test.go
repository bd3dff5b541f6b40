package egress

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httptrace"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/http1"
	"github.com/egress-go/egress/internal/testkit"
)

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func TestMethodsHeadersStatus(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Echo", r.Header.Get("X-Test"))
		w.WriteHeader(201)
		if r.Method != http.MethodHead {
			fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
		}
	}))
	tr := newTestTransport(t, Options{})
	client := &http.Client{Transport: tr}
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		var body io.Reader
		if m == "POST" || m == "PUT" || m == "PATCH" {
			body = strings.NewReader("payload")
		}
		req, _ := http.NewRequest(m, srv.URL+"/p?q=1", body)
		req.Header.Set("X-Test", "v-"+m)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 || resp.Header.Get("X-Method") != m || resp.Header.Get("X-Echo") != "v-"+m {
			t.Fatalf("%s: %d %v", m, resp.StatusCode, resp.Header)
		}
		want := m + " /p?q=1 "
		if body != nil {
			want += "payload"
		}
		if m == "HEAD" {
			want = ""
		}
		if string(got) != want {
			t.Fatalf("%s body %q, want %q", m, got, want)
		}
	}
	if s := tr.Stats(); s.Pool.Dials != 1 {
		t.Fatalf("7 sequential requests used %d connections", s.Pool.Dials)
	}
}

func TestRedirectsAndCookies(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc"})
			http.Redirect(w, r, "/next", http.StatusFound)
		case "/next":
			c, err := r.Cookie("session")
			if err != nil {
				http.Error(w, "no cookie", 400)
				return
			}
			fmt.Fprint(w, "cookie="+c.Value)
		}
	}))
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Transport: newTestTransport(t, Options{}), Jar: jar}
	resp, err := client.Get(srv.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "cookie=abc" || resp.Request.URL.Path != "/next" {
		t.Fatalf("got %q at %s", b, resp.Request.URL)
	}
}

func TestUploadsAndChunkedDownloadWithTrailers(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("X-Length", fmt.Sprint(r.ContentLength))
		w.Header().Set("X-TE", strings.Join(r.TransferEncoding, ","))
		w.(http.Flusher).Flush() // forces a chunked response
		fmt.Fprintf(w, "%d", n)
		w.Header().Set("X-Sum", fmt.Sprintf("%x", h.Sum(nil)))
	}))
	client := &http.Client{Transport: newTestTransport(t, Options{})}
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	sum := fmt.Sprintf("%x", sha256.Sum256(payload))

	// Known length.
	resp, err := client.Post(srv.URL, "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != fmt.Sprint(len(payload)) || resp.Header.Get("X-Length") != fmt.Sprint(len(payload)) {
		t.Fatalf("Content-Length upload: %q %v", b, resp.Header)
	}
	if resp.Trailer.Get("X-Sum") != sum || len(resp.TransferEncoding) != 1 {
		t.Fatalf("trailer %v, TE %v", resp.Trailer, resp.TransferEncoding)
	}

	// Unknown length: chunked.
	pr, pw := io.Pipe()
	go func() {
		for off := 0; off < len(payload); off += 100_000 {
			pw.Write(payload[off:min(off+100_000, len(payload))])
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("PUT", srv.URL, pr)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != fmt.Sprint(len(payload)) || resp.Header.Get("X-TE") != "chunked" || resp.Trailer.Get("X-Sum") != sum {
		t.Fatalf("chunked upload: %q %v %v", b, resp.Header, resp.Trailer)
	}
}

func TestExpectContinue(t *testing.T) {
	testkit.CheckLeaks(t)
	var bodies atomic.Int64
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refuse" {
			w.WriteHeader(http.StatusExpectationFailed) // without reading the body: no 100
			return
		}
		b, _ := io.ReadAll(r.Body) // reading sends 100 Continue
		bodies.Add(int64(len(b)))
		fmt.Fprint(w, len(b))
	}))
	var got100 atomic.Bool
	client := &http.Client{Transport: newTestTransport(t, Options{ExpectContinueTimeout: 5 * time.Second})}
	trace := &httptrace.ClientTrace{Got100Continue: func() { got100.Store(true) }}
	post := func(path string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(strings.Repeat("x", 5000)))
		req.Header.Set("Expect", "100-continue")
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	start := time.Now()
	if resp := post("/accept"); resp.StatusCode != 200 || !got100.Load() || bodies.Load() != 5000 {
		t.Fatalf("accepted: %d, 100=%v, server read %d", resp.StatusCode, got100.Load(), bodies.Load())
	}
	if time.Since(start) > 4*time.Second {
		t.Fatal("waited for the expect timeout although the server sent 100")
	}
	if resp := post("/refuse"); resp.StatusCode != http.StatusExpectationFailed || bodies.Load() != 5000 {
		t.Fatalf("refused: %d, server read %d", resp.StatusCode, bodies.Load())
	}
}

func TestGzip(t *testing.T) {
	testkit.CheckLeaks(t)
	text := strings.Repeat("compressible ", 1000)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			fmt.Fprint(w, "plain:"+r.Header.Get("Accept-Encoding"))
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, text)
		zw.Close()
	}))
	tr := newTestTransport(t, Options{})
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != text || !resp.Uncompressed || resp.Header.Get("Content-Encoding") != "" || resp.ContentLength != -1 {
		t.Fatalf("gzip: %d bytes, uncompressed=%v, header %v", len(b), resp.Uncompressed, resp.Header)
	}
	// The caller's own Accept-Encoding is left alone, and so is the body.
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "identity")
	resp, _ = tr.RoundTrip(req)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "plain:identity" {
		t.Fatalf("explicit encoding: %q", b)
	}
	off := newTestTransport(t, Options{DisableCompression: true})
	resp, _ = (&http.Client{Transport: off}).Get(srv.URL)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "plain:" {
		t.Fatalf("DisableCompression: %q", b)
	}
}

func TestReuseObservedThroughTrace(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	client := &http.Client{Transport: newTestTransport(t, Options{})}
	var mu sync.Mutex // hooks run on the caller's goroutine and on the loop
	var reused []bool
	var events []string
	ev := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	trace := &httptrace.ClientTrace{
		GetConn:              func(string) { ev("get") },
		GotConn:              func(i httptrace.GotConnInfo) { mu.Lock(); reused = append(reused, i.Reused); mu.Unlock(); ev("got") },
		WroteHeaders:         func() { ev("headers") },
		WroteRequest:         func(httptrace.WroteRequestInfo) { ev("wrote") },
		GotFirstResponseByte: func() { ev("first-byte") },
	}
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", srv.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(reused) != "[false true true]" {
		t.Fatalf("reused %v", reused)
	}
	if got := strings.Join(events[:5], ","); got != "get,got,headers,wrote,first-byte" {
		t.Fatalf("trace order %s", got)
	}
}

// staleServer answers one request per connection, then closes the
// connection when the next request arrives, without answering: the stale
// keep-alive connection a client must retry around.
func staleServer(t *testing.T) (addr string, conns *atomic.Int64) {
	return rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readHead(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		readHead(br) // the next request: dropped on the floor
	})
}

// uploadServer is a keep-alive HTTP/1.1 server for the retry tests. It
// answers the first request on each connection. On a reused connection a
// request may ask, with ?drop=, for the stale-connection failure a client
// must survive, all without an answer: "head" closes the connection once
// the request head has arrived, "body" once the whole body has, "mid-body"
// after 64 KiB of it. Every body read to its end, or to the connection's
// end, is recorded by path, so that a test sees a replay that sent an
// empty, partial or second copy of a body.
type uploadServer struct {
	addr  string
	conns *atomic.Int64
	mu    sync.Mutex
	got   map[string][]upload
	open  map[string]net.Conn // by the client's address
}

type upload struct {
	body []byte
	err  error // the connection ended before the body did
}

func newUploadServer(t *testing.T) *uploadServer {
	s := &uploadServer{got: map[string][]upload{}, open: map[string]net.Conn{}}
	s.addr, s.conns = rawServer(t, s.serve)
	return s
}

func (s *uploadServer) serve(c net.Conn, br *bufio.Reader) {
	s.mu.Lock()
	s.open[c.RemoteAddr().String()] = c
	s.mu.Unlock()
	for n := 0; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		drop := ""
		if n > 0 {
			drop = req.URL.Query().Get("drop")
		}
		switch drop {
		case "head":
			return
		case "mid-body":
			io.CopyN(io.Discard, req.Body, 64<<10)
			return
		}
		body, err := io.ReadAll(req.Body)
		s.mu.Lock()
		s.got[req.URL.Path] = append(s.got[req.URL.Path], upload{body, err})
		s.mu.Unlock()
		if err != nil || drop == "body" {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	}
}

// uploads returns what the server received at path.
func (s *uploadServer) uploads(path string) []upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[path]
}

// closeConn closes the server's end of the connection from the client
// address addr.
func (s *uploadServer) closeConn(addr string) bool {
	s.mu.Lock()
	c := s.open[addr]
	s.mu.Unlock()
	if c == nil {
		return false
	}
	c.Close()
	return true
}

// TestRetryOnStaleConnection checks DESIGN rule 6 on a pooled connection
// that the server closed without answering: a request is replayed on a
// fresh connection only when it can be sent whole again, and then exactly
// once. The server must never receive an empty or partial body (a request
// body drained by the first attempt and sent again), nor a request that
// succeeded twice; a request that cannot be replayed fails with the typed
// error.
func TestRetryOnStaleConnection(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newUploadServer(t)
	small := bytes.Repeat([]byte("small body. "), 100)
	// Bigger than loopback's socket buffers, so that a server that stops
	// reading after 64 KiB leaves the client mid-body.
	big := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	rewindable := func(body []byte) func(*testing.T, string) *http.Request {
		return func(t *testing.T, url string) *http.Request {
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			if req.GetBody == nil {
				t.Fatal("http.NewRequest set no GetBody for a bytes.Reader")
			}
			return req
		}
	}
	// A body that cannot be rewound: no GetBody, and with length false
	// no Content-Length either (sent chunked).
	oneShot := func(body []byte, length bool) func(*testing.T, string) *http.Request {
		return func(_ *testing.T, url string) *http.Request {
			req, _ := http.NewRequest("POST", url, io.NopCloser(bytes.NewReader(body)))
			if length {
				req.ContentLength = int64(len(body))
			}
			return req
		}
	}
	for _, tc := range []struct {
		name string
		drop string // what the server does to the request on the reused connection
		req  func(t *testing.T, url string) *http.Request
		body []byte // the request's body: what the server must receive, whole
		// closeFirst closes the reused connection after the pool hands it
		// out and before the request is written (drop is then moot).
		closeFirst bool
		retried    bool // replayed on a fresh connection, and succeeds
		received   int  // copies of the request the server reads
	}{
		{name: "GET", drop: "head", req: func(t *testing.T, url string) *http.Request { return mustRequest(t, "GET", url) },
			retried: true, received: 1},
		{name: "rewindable POST", drop: "head", req: rewindable(small), body: small,
			retried: true, received: 1},
		{name: "rewindable POST cut mid-body", drop: "mid-body", req: rewindable(big), body: big,
			retried: true, received: 1},
		{name: "one-shot POST, nothing written", closeFirst: true, req: oneShot(small, false), body: small,
			retried: true, received: 1},
		// The server has the whole body: the request cannot be sent again,
		// and the client cannot know whether the server acted on it.
		{name: "one-shot chunked POST, body sent", drop: "body", req: oneShot(small, false), body: small,
			retried: false, received: 1},
		{name: "one-shot POST with Content-Length, body sent", drop: "body", req: oneShot(small, true), body: small,
			retried: false, received: 1},
		{name: "one-shot POST cut mid-body", drop: "mid-body", req: oneShot(big, false), body: big,
			retried: false, received: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTransport(t, Options{})
			base := "http://" + srv.addr
			// The first request opens the connection that goes stale.
			resp, err := tr.RoundTrip(mustRequest(t, "GET", base+"/warm"))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()

			path := "/" + strings.NewReplacer(" ", "-", ",", "").Replace(tc.name)
			req := tc.req(t, base+path+"?drop="+tc.drop)
			if tc.closeFirst {
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), closeOnReuse(t, tr, srv)))
			}
			resp, err = tr.RoundTrip(req)
			if err == nil {
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr != nil || string(b) != "ok" {
					t.Errorf("response body %q, %v", b, rerr)
				}
			}

			got := srv.uploads(path)
			for i, u := range got {
				if u.err != nil || !bytes.Equal(u.body, tc.body) {
					t.Errorf("copy %d at the server: a body of %d bytes (%v), want the whole %d bytes", i, len(u.body), u.err, len(tc.body))
				}
			}
			if len(got) != tc.received {
				t.Errorf("the server read the request %d times, want %d", len(got), tc.received)
			}
			var wantRetries int64
			if tc.retried {
				wantRetries = 1
				if err != nil {
					t.Errorf("not replayed: %v", err)
				}
			} else {
				var re *RequestError
				switch {
				case err == nil:
					t.Errorf("succeeded, want a failure: the body was consumed on the stale connection")
				case !errors.Is(err, ErrConnClosed) || !errors.As(err, &re) || !re.Reused || re.Retried != 0:
					t.Errorf("error %v (%#v), want a *RequestError on a reused connection, not retried, wrapping ErrConnClosed", err, re)
				}
			}
			if s := tr.Stats(); s.Retries != wantRetries {
				t.Errorf("Stats().Retries = %d, want %d", s.Retries, wantRetries)
			}
		})
	}
}

// closeOnReuse returns a trace whose GotConn, for a connection from the
// pool, has the server close it and waits until tr's loop has seen the
// close: GotConn runs before anything is written, so the request meets a
// stale connection with nothing of it sent. (For a pooled connection the
// pool calls back on the caller's goroutine, so waiting here does not
// hold up the loop that must see the close.)
func closeOnReuse(t *testing.T, tr *Transport, srv *uploadServer) *httptrace.ClientTrace {
	var once sync.Once
	return &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			return
		}
		once.Do(func() {
			closed := tr.Engine().Stats().Closed
			if !srv.closeConn(info.Conn.LocalAddr().String()) {
				t.Errorf("no server connection from %s", info.Conn.LocalAddr())
				return
			}
			for deadline := time.Now().Add(10 * time.Second); tr.Engine().Stats().Closed == closed; {
				if time.Now().After(deadline) {
					t.Errorf("the client did not see the server close the connection")
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}}
}

func TestIdleConnectionsClosedByServer(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	// The server drops a connection idle for 300 ms; after each request
	// the test waits until the pool has seen that close, so the next
	// request must dial, and never meets a connection being closed.
	srv.Config.IdleTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	tr := newTestTransport(t, Options{})
	client := &http.Client{Transport: tr}
	for i := 0; i < 4; i++ {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		testkit.WaitFor(t, "the pool to see the server close the idle connection", func() bool { return tr.Stats().Pool.Open == 0 })
	}
	s := tr.Stats()
	if s.Failures != 0 || s.Retries != 0 || s.Pool.Dials != 4 || s.Pool.PeerClosedIdle < 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestTruncatedAndResetBodies(t *testing.T) {
	testkit.CheckLeaks(t)
	gotHead := make(chan struct{})
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		head, _ := readHead(br)
		if strings.Contains(head, "/reset") {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("x", 1000))
			// Reset only once the client has the head: a reset that
			// overtakes it would fail the request, not the body.
			select {
			case <-gotHead:
			case <-time.After(10 * time.Second):
			}
			c.(*net.TCPConn).SetLinger(0)
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
	})
	client := &http.Client{Transport: newTestTransport(t, Options{})}
	resp, err := client.Get("http://" + addr + "/short")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	var te *http1.TruncatedError
	if !errors.As(err, &te) || te.Expected != 10 || te.Got != 5 || string(b) != "hello" {
		t.Fatalf("truncated: %q, %v", b, err)
	}
	resp, err = client.Get("http://" + addr + "/reset")
	close(gotHead)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || !(errors.As(err, &te) || errors.Is(err, ErrConnClosed)) {
		t.Fatalf("reset mid-body: %v", err)
	}
}

func TestHeaderTimeout(t *testing.T) {
	testkit.CheckLeaks(t)
	release := make(chan struct{})
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer close(release)
	tr := newTestTransport(t, Options{ResponseHeaderTimeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(srv.URL)
	if !errors.Is(err, ErrHeaderTimeout) {
		t.Fatalf("err %v", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("%v is not a timeout", err)
	}
	// Never before the timeout; the upper bound only catches a timer that
	// did not fire (the server holds the request for the whole test).
	if d := time.Since(start); d < 90*time.Millisecond || d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestCancelMidBodyReleasesConnection(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 1<<20))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	tr := newTestTransport(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, make([]byte, 1000))
	cancel()
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v", err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for tr.Engine().Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("connection still open: %+v", tr.Engine().Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLargeDownloadBoundedMemory streams 1 GiB through a slow reader and
// checks that the heap stays small: back-pressure, not buffering.
func TestLargeDownloadBoundedMemory(t *testing.T) {
	testkit.CheckLeaks(t)
	size := int64(1 << 30)
	if testing.Short() {
		size = 128 << 20
	}
	chunk := bytes.Repeat([]byte("egress!!"), 8192) // 64 KiB
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		for sent := int64(0); sent < size; sent += int64(len(chunk)) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	tr := newTestTransport(t, Options{})
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	buf := make([]byte, 32<<10)
	var total int64
	for i := 0; ; i++ {
		n, err := resp.Body.Read(buf)
		total += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%2048 == 0 {
			time.Sleep(20 * time.Millisecond) // a slow reader: the window fills
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if total != size {
		t.Fatalf("read %d of %d", total, size)
	}
	if grew := int64(peak) - int64(base); grew > 32<<20 {
		t.Fatalf("heap grew by %d MiB while streaming %d MiB", grew>>20, size>>20)
	}
}

func TestTraceDNSAndConnect(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	var mu sync.Mutex
	var got []string
	add := func(s string) { mu.Lock(); got = append(got, s); mu.Unlock() }
	trace := &httptrace.ClientTrace{
		DNSStart:     func(i httptrace.DNSStartInfo) { add("dns-start " + i.Host) },
		DNSDone:      func(i httptrace.DNSDoneInfo) { add(fmt.Sprintf("dns-done %v", i.Err == nil && len(i.Addrs) > 0)) },
		ConnectStart: func(network, addr string) { add("connect-start " + network) },
		ConnectDone:  func(network, addr string, err error) { add(fmt.Sprintf("connect-done %v", err)) },
	}
	tr := newTestTransport(t, Options{})
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://localhost:"+port+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	s := strings.Join(got, "|")
	// localhost may resolve to ::1 first where nothing listens: a failed
	// attempt is reported too, then the one that connects.
	if !strings.HasPrefix(s, "dns-start localhost|dns-done true|connect-start tcp|") || !strings.HasSuffix(s, "connect-done <nil>") {
		t.Fatalf("trace: %s", s)
	}
}

func TestBodyLengthMismatch(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "ok")
	}))
	tr := newTestTransport(t, Options{})
	for _, tc := range []struct {
		body string
		cl   int64
	}{{"too long", 3}, {"short", 50}} {
		req, _ := http.NewRequest("POST", srv.URL, io.NopCloser(strings.NewReader(tc.body)))
		req.ContentLength = tc.cl
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := tr.RoundTrip(req.WithContext(ctx))
		cancel()
		if err == nil {
			resp.Body.Close()
			t.Fatalf("body %q with Content-Length %d was sent", tc.body, tc.cl)
		}
		if !strings.Contains(err.Error(), "Content-Length") {
			t.Fatalf("unclear error: %v", err)
		}
	}
}

// TestEarlyResponseDuringUpload has the server answer a POST as soon as it
// has the head, while the client is still pumping a body too big for the
// socket buffers. The response ends the exchange mid-body: the connection
// must not go back to the pool, and none of that body's bytes may reach the
// connection that serves the next request. The server checks that every
// request it reads on any connection is well formed.
func TestEarlyResponseDuringUpload(t *testing.T) {
	testkit.CheckLeaks(t)
	var garbage atomic.Int64
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
					garbage.Add(1)
				}
				return
			}
			if req.Method != "POST" && req.Method != "GET" {
				garbage.Add(1)
				return
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
		}
	})
	tr := newTestTransport(t, Options{})
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	body := bytes.Repeat([]byte("x"), 1<<20)
	for i := range 20 {
		var r io.Reader = bytes.NewReader(body)
		if i%2 == 1 {
			r = io.MultiReader(r) // length unknown: chunked
		}
		resp, err := client.Post("http://"+addr+"/up", "application/octet-stream", r)
		if err != nil {
			t.Fatalf("POST %d: %v", i, err)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
			t.Fatalf("POST %d: %q", i, b)
		}
		resp.Body.Close()
		resp, err = client.Get("http://" + addr + "/next")
		if err != nil {
			t.Fatalf("GET %d: %v", i, err)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
			t.Fatalf("GET %d: %q", i, b)
		}
		resp.Body.Close()
	}
	if n := garbage.Load(); n != 0 {
		t.Fatalf("the server read %d malformed requests: body bytes leaked onto another request", n)
	}
}
