package egress

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress/http2"
	"github.com/egress-go/egress/internal/testkit"
)

// h2Handler is the handler of the HTTP/2 test servers:
//
//	/hello          13 bytes, with X-Proto set to the request's protocol
//	/echo           the request body back, and its length in a trailer
//	/size?n=N       N bytes of a repeating pattern
//	/slow           a first chunk, then nothing until the client goes away
//	/stall          no response until the client goes away
//	/continue       the request body's length, after a 100 Continue
//	/status?code=N  an empty response with that status
func h2Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
		w.Header().Set("X-Authority", r.Host)
		io.WriteString(w, "Hello, world!")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Length, X-Sum")
		n, _ := io.Copy(w, io.TeeReader(r.Body, io.Discard))
		w.Header().Set("X-Length", strconv.FormatInt(n, 10))
	})
	mux.HandleFunc("/size", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(pattern(n))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // no head until the client goes away
	})
	mux.HandleFunc("/continue", func(w http.ResponseWriter, r *http.Request) {
		// Reading the body makes Go's server send 100 Continue.
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d", n)
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
	})
	return mux
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// newH2TLSServer starts Go's HTTP/2 server over TLS and returns a client
// TLS config that trusts it.
func newH2TLSServer(t *testing.T, h http.Handler) (*httptest.Server, *tls.Config) {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	roots := x509.NewCertPool()
	roots.AddCert(s.Certificate())
	return s, &tls.Config{RootCAs: roots}
}

// newH2CServer starts Go's server speaking HTTP/2 in plain text (h2c with
// prior knowledge) and HTTP/1.1.
func newH2CServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestH2OverTLS(t *testing.T) {
	testkit.CheckLeaks(t)
	s, cfg := newH2TLSServer(t, h2Handler())
	tr := newTestTransport(t, Options{TLSClientConfig: cfg})
	client := &http.Client{Transport: tr}
	for i := range 3 {
		resp, err := client.Get(s.URL + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "Hello, world!" {
			t.Fatalf("body %q, %v", body, err)
		}
		if resp.Proto != "HTTP/2.0" || resp.ProtoMajor != 2 || resp.Header.Get("X-Proto") != "HTTP/2.0" || resp.Status != "200 OK" {
			t.Fatalf("request %d: proto %q/%q, status %q", i, resp.Proto, resp.Header.Get("X-Proto"), resp.Status)
		}
		if resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" || !resp.TLS.HandshakeComplete {
			t.Fatalf("request %d: Response.TLS = %+v", i, resp.TLS)
		}
	}
	st := tr.Stats().Pool
	if st.Dials != 1 || st.Multiplexed != 1 || st.Streams != 2 {
		t.Fatalf("three requests: %d dials, %d multiplexed connections, %d stream reuses; want 1, 1, 2", st.Dials, st.Multiplexed, st.Streams)
	}
}

func TestH2PriorKnowledge(t *testing.T) {
	testkit.CheckLeaks(t)
	url := newH2CServer(t, h2Handler())
	tr := newTestTransport(t, Options{HTTP2: HTTP2Options{PriorKnowledge: true}})
	resp, err := (&http.Client{Transport: tr}).Get(url + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || resp.Header.Get("X-Proto") != "HTTP/2.0" || string(body) != "Hello, world!" {
		t.Fatalf("proto %q, server saw %q, body %q", resp.Proto, resp.Header.Get("X-Proto"), body)
	}
	if resp.TLS != nil {
		t.Fatalf("Response.TLS over plain text: %+v", resp.TLS)
	}
	// Without prior knowledge the same server is spoken to in HTTP/1.1.
	tr1 := newTestTransport(t, Options{})
	resp, err = (&http.Client{Transport: tr1}).Get(url + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/1.1" {
		t.Fatalf("without prior knowledge: %q", resp.Proto)
	}
}

func TestH2Disabled(t *testing.T) {
	testkit.CheckLeaks(t)
	s, cfg := newH2TLSServer(t, h2Handler())
	tr := newTestTransport(t, Options{TLSClientConfig: cfg, HTTP2: HTTP2Options{Disable: true}})
	resp, err := (&http.Client{Transport: tr}).Get(s.URL + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/1.1" || resp.Header.Get("X-Proto") != "HTTP/1.1" {
		t.Fatalf("HTTP/2 disabled but spoke %q", resp.Proto)
	}
}

// Many requests at once share one connection, each with its own stream,
// and each gets its own body.
func TestH2Multiplexing(t *testing.T) {
	testkit.CheckLeaks(t)
	url := newH2CServer(t, h2Handler())
	tr := newTestTransport(t, Options{HTTP2: HTTP2Options{PriorKnowledge: true}})
	client := &http.Client{Transport: tr}
	// One request first, so that the key is known to multiplex.
	if resp, err := client.Get(url + "/hello"); err != nil {
		t.Fatal(err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			size := 1000 + i*997
			resp, err := client.Get(fmt.Sprintf("%s/size?n=%d", url, size))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(body, pattern(size)) {
				errs <- fmt.Errorf("size %d: got %d bytes, %v", size, len(body), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := tr.Stats().Pool; st.Dials != 1 {
		t.Fatalf("%d dials for %d concurrent requests, want 1 connection", st.Dials, n+1)
	}
}

// A streamed upload of unknown length goes through flow control whole, and
// the server's trailers come back in Response.Trailer.
func TestH2UploadAndTrailers(t *testing.T) {
	testkit.CheckLeaks(t)
	s, cfg := newH2TLSServer(t, h2Handler())
	tr := newTestTransport(t, Options{TLSClientConfig: cfg})
	up := pattern(3<<20 + 17)
	req, _ := http.NewRequest("POST", s.URL+"/echo", io.NopCloser(bytes.NewReader(up))) // length unknown
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || sha256.Sum256(got) != sha256.Sum256(up) {
		t.Fatalf("echo: %d bytes of %d, %v", len(got), len(up), err)
	}
	if l := resp.Trailer.Get("X-Length"); l != strconv.Itoa(len(up)) {
		t.Fatalf("trailer X-Length %q, want %d (trailer %v)", l, len(up), resp.Trailer)
	}
}

// Cancelling a request mid-body resets its stream at once; the connection
// and the other streams carry on.
func TestH2CancelMidBody(t *testing.T) {
	testkit.CheckLeaks(t)
	url := newH2CServer(t, h2Handler())
	tr := newTestTransport(t, Options{HTTP2: HTTP2Options{PriorKnowledge: true}})
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/slow", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first" {
		t.Fatalf("first chunk %q, %v", buf, err)
	}
	cancel()
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("read after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the body did not end after cancel")
	}
	resp.Body.Close()
	testkit.WaitFor(t, "the stream to be given back", func() bool { return tr.Stats().Pool.StreamsInUse == 0 })
	resp, err = client.Get(url + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if st := tr.Stats().Pool; st.Dials != 1 {
		t.Fatalf("a cancelled stream cost the connection: %d dials", st.Dials)
	}
}

// Responses without a body: 204, 304 and HEAD.
func TestH2NoBody(t *testing.T) {
	testkit.CheckLeaks(t)
	url := newH2CServer(t, h2Handler())
	tr := newTestTransport(t, Options{HTTP2: HTTP2Options{PriorKnowledge: true}})
	client := &http.Client{Transport: tr}
	for _, code := range []int{204, 304, 404} {
		resp, err := client.Get(fmt.Sprintf("%s/status?code=%d", url, code))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != code || len(body) != 0 || err != nil {
			t.Fatalf("status %d: got %d, %d bytes, %v", code, resp.StatusCode, len(body), err)
		}
	}
	resp, err := client.Head(url + "/size?n=100")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(body) != 0 || resp.ContentLength != 100 {
		t.Fatalf("HEAD: %d bytes, length %d", len(body), resp.ContentLength)
	}
}

// The non-blocking API over HTTP/2: callbacks, and an Exchange sent again
// from OnDone.
func TestH2Exchange(t *testing.T) {
	testkit.CheckLeaks(t)
	url := newH2CServer(t, h2Handler())
	tr := newTestTransport(t, Options{HTTP2: HTTP2Options{PriorKnowledge: true}})
	var got bytes.Buffer
	var status int
	var proto []byte
	done := make(chan error, 1)
	left := 3
	ex := &Exchange{URL: url + "/hello"}
	ex.OnHead = func(ex *Exchange) {
		status = ex.StatusCode()
		proto = append(proto[:0], ex.HeaderValue("X-Proto")...)
	}
	ex.OnBody = func(ex *Exchange, p []byte) { got.Write(p) }
	ex.OnDone = func(ex *Exchange, err error) {
		left--
		if err != nil || left == 0 {
			done <- err
			return
		}
		if err := tr.Send(ex); err != nil {
			done <- err
		}
	}
	if err := tr.Send(ex); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("exchanges did not finish")
	}
	if status != 200 || string(proto) != "HTTP/2.0" || got.String() != "Hello, world!Hello, world!Hello, world!" {
		t.Fatalf("status %d, proto %q, body %q", status, proto, got.String())
	}
}

// The health check: a connection that goes silent with a request in
// flight gets a PING, and when no answer comes, the request fails with
// ErrHealthCheck within seconds instead of hanging.
func TestH2HealthCheck(t *testing.T) {
	testkit.CheckLeaks(t)
	// A server that completes the handshake and then stops answering.
	srv := testkit.NewServer(t, func(c net.Conn) {
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, preface); err != nil {
			return
		}
		c.Write(http2.AppendSettings(nil))
		io.Copy(io.Discard, c) // reads, never answers
	})
	tr := newTestTransport(t, Options{HTTP2: HTTP2Options{PriorKnowledge: true, ReadIdleTimeout: 200 * time.Millisecond, PingTimeout: 200 * time.Millisecond}})
	start := time.Now()
	_, err := (&http.Client{Transport: tr}).Get("http://" + srv.Addr() + "/")
	if !errors.Is(err, ErrHealthCheck) {
		t.Fatalf("request on a dead connection: %v, want ErrHealthCheck", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("failed after %v, before a read-idle interval and a ping timeout", d)
	}
}

// The header and body timeouts apply per stream: the stream is reset and
// the connection serves the next request.
func TestH2Timeouts(t *testing.T) {
	testkit.CheckLeaks(t)
	url := newH2CServer(t, h2Handler())
	tr := newTestTransport(t, Options{
		HTTP2:                 HTTP2Options{PriorKnowledge: true},
		ResponseHeaderTimeout: 300 * time.Millisecond,
		BodyIdleTimeout:       300 * time.Millisecond,
	})
	client := &http.Client{Transport: tr}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // fail, not hang, if the timeout never fires
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/stall", nil)
	_, err := client.Do(req)
	if !errors.Is(err, ErrHeaderTimeout) {
		t.Fatalf("stalled head: %v, want ErrHeaderTimeout", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("header timeout after %v, before 300ms", d)
	}
	resp, err := client.Get(url + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, ErrBodyIdleTimeout) {
		t.Fatalf("stalled body: %v, want ErrBodyIdleTimeout", err)
	}
	resp, err = client.Get(url + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if st := tr.Stats().Pool; st.Dials != 1 {
		t.Fatalf("timeouts cost the connection: %d dials", st.Dials)
	}
}

// Expect: 100-continue over HTTP/2: the body waits for the server's 100,
// and httptrace hears of it; GotConn says whether the connection was
// reused.
func TestH2ContinueAndTrace(t *testing.T) {
	testkit.CheckLeaks(t)
	s, cfg := newH2TLSServer(t, h2Handler())
	tr := newTestTransport(t, Options{TLSClientConfig: cfg, ExpectContinueTimeout: 10 * time.Second})
	client := &http.Client{Transport: tr}
	var reused []bool
	var got100 int
	trace := &httptrace.ClientTrace{
		GotConn:        func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) },
		Got100Continue: func() { got100++ },
	}
	for range 2 {
		body := pattern(100 << 10)
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "PUT", s.URL+"/continue", bytes.NewReader(body))
		req.Header.Set("Expect", "100-continue")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != strconv.Itoa(len(body)) {
			t.Fatalf("server read %q bytes, want %d", b, len(body))
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("the body waited for ExpectContinueTimeout: the 100 was missed")
		}
	}
	if got100 != 2 || len(reused) != 2 || reused[0] || !reused[1] {
		t.Fatalf("Got100Continue %d times, GotConn reused %v; want 2 and [false true]", got100, reused)
	}
}
