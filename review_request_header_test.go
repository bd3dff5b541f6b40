package egress

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// headServer answers every request with an empty 200 after sending its
// head, as read, to heads.
func headServer(t *testing.T) (addr string, heads chan string) {
	heads = make(chan string, 16)
	addr, _ = rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			var b strings.Builder
			req.Header.Write(&b)
			heads <- b.String()
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
	})
	return addr, heads
}

// TestReviewRequestUserAgent: a request without a User-Agent field gets
// net/http's default, "Go-http-client/1.1" (some services refuse a
// request without one); one that sets it sends its own value alone, and
// one whose Header holds the key with no value sends none, as in net/http.
func TestReviewRequestUserAgent(t *testing.T) {
	testkit.CheckLeaks(t)
	addr, heads := headServer(t)
	for _, tc := range []struct {
		name    string
		header  http.Header
		noGzip  bool
		want    []string // the User-Agent values the server sees
		wantGzp bool
	}{
		{name: "default", header: http.Header{}, want: []string{"Go-http-client/1.1"}, wantGzp: true},
		{name: "default without gzip", header: http.Header{}, noGzip: true, want: []string{"Go-http-client/1.1"}},
		{name: "nil header", want: []string{"Go-http-client/1.1"}, wantGzp: true},
		{name: "own", header: http.Header{"User-Agent": {"sdk/2.0"}}, want: []string{"sdk/2.0"}, wantGzp: true},
		{name: "own without gzip", header: http.Header{"User-Agent": {"sdk/2.0"}}, noGzip: true, want: []string{"sdk/2.0"}},
		{name: "suppressed", header: http.Header{"User-Agent": nil}, want: nil, wantGzp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTransport(t, Options{DisableCompression: tc.noGzip})
			req := mustRequest(t, "GET", "http://"+addr+"/")
			req.Header = tc.header
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			head := <-heads
			h, err := readMIME(head)
			if err != nil {
				t.Fatalf("%v in %q", err, head)
			}
			if got := h["User-Agent"]; strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("User-Agent %q, want %q; head:\n%s", got, tc.want, head)
			}
			if gz := h.Get("Accept-Encoding") == "gzip"; gz != tc.wantGzp {
				t.Errorf("Accept-Encoding gzip sent %v, want %v; head:\n%s", gz, tc.wantGzp, head)
			}
		})
	}
}

// readMIME parses header lines as written by http.Header.Write.
func readMIME(s string) (http.Header, error) {
	h := http.Header{}
	for line := range strings.SplitSeq(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			return nil, io.ErrUnexpectedEOF
		}
		h[k] = append(h[k], v)
	}
	return h, nil
}

// trailerFiller is a request body that sets its request's trailer as it
// ends, as net/http lets a body do: the trailer is read once the body is.
type trailerFiller struct {
	r       io.Reader
	trailer http.Header
	key, v  string
}

func (b *trailerFiller) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.trailer.Set(b.key, b.v)
	}
	return n, err
}

// TestReviewRequestTrailer: Request.Trailer is sent after a chunked
// request body, announced in a Trailer field, with the values it holds
// once the body has ended, as net/http sends it; a trailer the protocol
// forbids (one that would change the framing) fails the request.
func TestReviewRequestTrailer(t *testing.T) {
	testkit.CheckLeaks(t)
	type got struct {
		trailer http.Header
		body    string
		err     error
	}
	gots := make(chan got, 4)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		gots <- got{r.Trailer, string(b), err}
	}))
	tr := newTestTransport(t, Options{})
	payload := strings.Repeat("chunk of body ", 5000)

	req, _ := http.NewRequest("PUT", srv.URL, nil)
	req.Trailer = http.Header{"X-Checksum": nil, "X-Count": {"3"}}
	req.Body = io.NopCloser(&trailerFiller{r: strings.NewReader(payload), trailer: req.Trailer, key: "X-Checksum", v: "abc123"})
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	g := <-gots
	if g.err != nil || g.body != payload {
		t.Fatalf("the server read %d bytes, %v", len(g.body), g.err)
	}
	if g.trailer.Get("X-Checksum") != "abc123" || g.trailer.Get("X-Count") != "3" || len(g.trailer) != 2 {
		t.Fatalf("the server got the trailer %v, want X-Checksum: abc123 and X-Count: 3", g.trailer)
	}

	// Content-Length in a trailer would change the body's framing after
	// the fact: refused (net/http refuses it too).
	// Checked before the request goes to the pool: nothing is sent.
	before := tr.Stats().Pool.Requests
	req, _ = http.NewRequest("PUT", srv.URL, io.NopCloser(strings.NewReader(payload)))
	req.Trailer = http.Header{"Content-Length": {"1"}}
	resp, err = tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("a request with a Content-Length trailer was sent")
	}
	if !strings.Contains(err.Error(), "Content-Length") {
		t.Fatalf("error %v does not name the trailer", err)
	}
	if n := tr.Stats().Pool.Requests - before; n != 0 {
		t.Fatalf("the request asked the pool for a connection (%d) before failing", n)
	}

	// A value that cannot be sent, set while the body is read, fails the
	// request once the body has ended, before the last chunk goes.
	// The context bounds the test should the last chunk never go.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, "PUT", srv.URL, nil)
	req.Trailer = http.Header{"X-Checksum": nil}
	req.Body = io.NopCloser(&trailerFiller{r: strings.NewReader(payload), trailer: req.Trailer, key: "X-Checksum", v: "a\r\nX-Injected: 1"})
	resp, err = tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("a request with a CR LF in a trailer value was sent")
	}
	if !strings.Contains(err.Error(), "X-Checksum") || ctx.Err() != nil {
		t.Fatalf("error %v does not name the trailer", err)
	}
	if g := <-gots; g.err == nil || g.trailer.Get("X-Injected") != "" {
		t.Fatalf("the server read the whole request, trailer %v", g.trailer)
	}
}

// TestReviewRequestConnectTarget: a CONNECT request made by hand (to
// check a proxy, say) names its target in authority form, the request's
// Host, or the URL's opaque part, as net/http writes it; it went out as
// "CONNECT / HTTP/1.1", which no proxy takes.
func TestReviewRequestConnectTarget(t *testing.T) {
	testkit.CheckLeaks(t)
	lines := make(chan string, 4)
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		head, err := readHead(br)
		if err != nil {
			return
		}
		line, _, _ := strings.Cut(head, "\r\n")
		lines <- line
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
	})
	tr := newTestTransport(t, Options{})
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{"Host", func() *http.Request {
			req := mustRequest(t, "CONNECT", "http://"+addr)
			req.Host = "target.example:443"
			return req
		}, "CONNECT target.example:443 HTTP/1.1"},
		{"URL host", func() *http.Request { return mustRequest(t, "CONNECT", "http://"+addr) }, "CONNECT " + addr + " HTTP/1.1"},
		{"opaque", func() *http.Request {
			req := mustRequest(t, "CONNECT", "http://"+addr)
			req.URL.Opaque = "other.example:8443"
			return req
		}, "CONNECT other.example:8443 HTTP/1.1"},
		{"with a path", func() *http.Request { return mustRequest(t, "CONNECT", "http://"+addr+"/p") }, "CONNECT /p HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tr.RoundTrip(tc.req())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := <-lines; got != tc.want || resp.StatusCode != 407 {
				t.Fatalf("request line %q, status %d; want %q, 407", got, resp.StatusCode, tc.want)
			}
		})
	}
}
