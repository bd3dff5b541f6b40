package egress

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

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
