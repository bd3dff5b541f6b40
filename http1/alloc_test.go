package http1

import (
	"net/http"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// raceEnabled is set by race_test.go when the race detector is on.
var raceEnabled bool

func skipAllocTest(t *testing.T) {
	t.Helper()
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need -short off and no race detector")
	}
}

// typicalResponse is a keep-alive response with eight fields and a
// Content-Length body, as an API server sends it.
var typicalResponse = []byte("HTTP/1.1 200 OK\r\n" +
	"Server: nginx/1.22.1\r\n" +
	"Date: Sat, 22 Nov 2025 03:28:00 GMT\r\n" +
	"Content-Type: application/json\r\n" +
	"Content-Length: 27\r\n" +
	"Connection: keep-alive\r\n" +
	"ETag: \"6561c2a0-1b\"\r\n" +
	"Cache-Control: max-age=60\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"\r\n" +
	`{"id":42,"name":"egress"}` + "\n\n")

var typicalChunked = []byte("HTTP/1.1 200 OK\r\n" +
	"Content-Type: text/plain\r\n" +
	"Transfer-Encoding: chunked\r\n" +
	"\r\n" +
	"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: 1234\r\n\r\n")

// feedAll runs the event loop's inner loop over in and returns the body
// length seen, touching what a client would.
func feedAll(tb testing.TB, p *ResponseParser, in []byte) int {
	n := 0
	for {
		ev, k, err := p.Feed(in)
		in = in[k:]
		if err != nil {
			tb.Fatal(err)
		}
		switch ev {
		case EventNone:
			return n
		case EventHead:
			if p.StatusCode() != 200 || p.Get("Content-Type") == nil || !p.KeepAlive() {
				tb.Fatal("unexpected head")
			}
		case EventBody:
			n += len(p.Body())
		case EventDone:
			if len(in) != 0 {
				tb.Fatal("leftover input")
			}
		}
	}
}

func TestAllocsParseResponse(t *testing.T) {
	skipAllocTest(t)
	var p ResponseParser
	split := len(typicalResponse) / 3 // inside the head: it gets buffered
	for _, tc := range []struct {
		name   string
		chunks [][]byte
	}{
		{"whole", [][]byte{typicalResponse}},
		{"head split", [][]byte{typicalResponse[:split], typicalResponse[split:]}},
		{"chunked with trailer", [][]byte{typicalChunked}},
		{"chunked split everywhere", testkit.Bytewise(typicalChunked)},
	} {
		allocs := testkit.AllocsPerOp(20, testkit.AllocBatch, func() {
			p.Reset("GET")
			for _, c := range tc.chunks {
				feedAll(t, &p, c)
			}
			if !p.Done() {
				t.Fatal("not done")
			}
		})
		t.Logf("%s: %.2f allocs per response", tc.name, allocs)
		if allocs != 0 {
			t.Errorf("%s: %.2f allocs per response, want 0", tc.name, allocs)
		}
	}
}

var typicalRequest = RequestHead{
	Method: "GET",
	Target: "/v1/items/42?fields=id,name",
	Host:   "api.example.com",
	Fields: []HeaderField{
		{"User-Agent", "egress/0.1"},
		{"Accept", "application/json"},
		{"Accept-Encoding", "gzip"},
	},
	Header: http.Header{
		"Authorization": {"Bearer abcdef0123456789"},
		"X-Request-Id":  {"7d1f7c3e-8a4b-4c1e-9d2f-0123456789ab"},
	},
}

func TestAllocsAppendRequestHead(t *testing.T) {
	skipAllocTest(t)
	buf := make([]byte, 0, 1024)
	post := typicalRequest
	post.Method, post.ContentLength = "POST", 1234
	chunked := typicalRequest
	chunked.Method, chunked.ContentLength, chunked.Close = "PUT", -1, true
	for _, h := range []*RequestHead{&typicalRequest, &post, &chunked} {
		allocs := testkit.AllocsPerOp(20, testkit.AllocBatch, func() {
			var err error
			if buf, err = AppendRequestHead(buf[:0], h); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.2f allocs per head, want 0", h.Method, allocs)
		}
	}
	allocs := testkit.AllocsPerOp(20, testkit.AllocBatch, func() {
		buf = AppendChunk(buf[:0], []byte("hello"))
		buf, _ = AppendLastChunk(buf, nil)
	})
	if allocs != 0 {
		t.Errorf("chunks: %.2f allocs per body, want 0", allocs)
	}
}

func BenchmarkParseResponse(b *testing.B) {
	var p ResponseParser
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalResponse)))
	for b.Loop() {
		p.Reset("GET")
		feedAll(b, &p, typicalResponse)
	}
}

func BenchmarkParseResponseChunked(b *testing.B) {
	var p ResponseParser
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalChunked)))
	for b.Loop() {
		p.Reset("GET")
		feedAll(b, &p, typicalChunked)
	}
}

func BenchmarkAppendRequestHead(b *testing.B) {
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendRequestHead(buf[:0], &typicalRequest); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkHeader: building an http.Header from a typical response's
// fields, what a RoundTripper pays per response on top of parsing.
func BenchmarkHeader(b *testing.B) {
	var p ResponseParser
	p.Reset("GET")
	if ev, _, err := p.Feed(typicalResponse); ev != EventHead || err != nil {
		b.Fatal(ev, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Header()
	}
}
