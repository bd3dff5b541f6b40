package http1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// parsed is what our parser says about a complete response, in the terms
// of http.Response.
type parsed struct {
	status, minor int
	header        http.Header
	contentLength int64
	close, tunnel bool
	body          []byte
	trailer       http.Header
	headSeen      bool
	err           error
}

func parseForDiff(method string, in []byte) *parsed {
	var p ResponseParser
	p.Reset(method)
	r := &parsed{}
	for {
		ev, n, err := p.Feed(in)
		in = in[n:]
		if err != nil {
			r.err = err
			return r
		}
		switch ev {
		case EventNone:
			r.err = p.EOF()
			return r
		case EventHead:
			r.headSeen = true
			r.status, r.minor = p.StatusCode(), p.ProtoMinor()
			// The header as the round trip builds a small response's,
			// into the caller's array with a body after its bytes (which
			// must not change it), and as it builds any other: the same.
			h, spare := p.HeaderInto(make([]string, 8), 16)
			_ = append(spare, "a body's 16 bytes"[:16]...)
			if plain := p.Header(); !reflect.DeepEqual(h, plain) {
				panic(fmt.Sprintf("HeaderInto built %q, Header %q", h, plain))
			}
			r.header = h
			r.contentLength = p.ContentLength()
			r.close, r.tunnel = !p.KeepAlive(), p.Tunnel()
		case EventBody:
			r.body = append(r.body, p.Body()...)
		case EventTrailers:
			r.trailer = p.Trailer()
		case EventDone:
			if p.Tunnel() {
				return r
			}
		}
	}
}

// readWithNetHTTP reads a response as net/http's Transport does: interim
// 1xx responses other than 101 are skipped.
func readWithNetHTTP(method string, in []byte) (*http.Response, error) {
	br := bufio.NewReader(bytes.NewReader(in))
	req := &http.Request{Method: method}
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == 101 {
			return resp, nil
		}
	}
}

// comparableHeader drops the fields whose presence net/http rewrites while
// reading (Transfer-Encoding and Trailer removed, Connection: close removed,
// Content-Length deduplicated or removed, Cache-Control added for Pragma);
// their meaning is compared through ContentLength and Close instead.
func comparableHeader(h http.Header) http.Header {
	h = maps.Clone(h)
	for _, k := range []string{"Transfer-Encoding", "Connection", "Content-Length", "Cache-Control", "Trailer"} {
		delete(h, k)
	}
	// A value folded onto a last line of only spaces keeps a trailing
	// space in net/http ("a\r\n \r\n" reads "a "); a field value has no
	// trailing whitespace (RFC 9110 §5.5), and we drop it.
	for k, vs := range h {
		trimmed := make([]string, len(vs))
		for i, v := range vs {
			trimmed[i] = strings.TrimRight(v, " \t")
		}
		h[k] = trimmed
	}
	return h
}

// compareHeads reports how net/http's reading of a head differs from ours.
func compareHeads(ours *parsed, resp *http.Response) error {
	if resp.StatusCode != ours.status || resp.ProtoMajor != 1 || resp.ProtoMinor != ours.minor {
		return fmt.Errorf("status/proto: net/http %d %d.%d, ours %d 1.%d", resp.StatusCode, resp.ProtoMajor, resp.ProtoMinor, ours.status, ours.minor)
	}
	if a, b := comparableHeader(resp.Header), comparableHeader(ours.header); !reflect.DeepEqual(a, b) {
		return fmt.Errorf("header:\nnet/http %q\n    ours %q", a, b)
	}
	if ours.tunnel {
		return nil // net/http leaves tunnels to the Transport
	}
	if resp.ContentLength != ours.contentLength {
		return fmt.Errorf("ContentLength: net/http %d, ours %d", resp.ContentLength, ours.contentLength)
	}
	if resp.Close != ours.close {
		return fmt.Errorf("Close: net/http %v, ours %v", resp.Close, ours.close)
	}
	return nil
}

// compareBodies reports how net/http's reading of the body and trailer
// differs from ours.
func compareBodies(ours *parsed, resp *http.Response) error {
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("net/http body: %v", err)
	}
	if !bytes.Equal(body, ours.body) {
		return fmt.Errorf("body: net/http %q, ours %q", body, ours.body)
	}
	// net/http pre-declares announced trailer keys with nil values.
	nt := http.Header{}
	for k, v := range resp.Trailer {
		if v != nil {
			nt[k] = v
		}
	}
	ot := ours.trailer
	if ot == nil {
		ot = http.Header{}
	}
	if !reflect.DeepEqual(nt, ot) {
		return fmt.Errorf("trailer: net/http %q, ours %q", nt, ot)
	}
	return nil
}

// TestDifferentialNetHTTP checks every valid table response against
// http.ReadResponse: same status, fields, length, connection fate, body
// and trailers.
func TestDifferentialNetHTTP(t *testing.T) {
	cases := append([]respCase(nil), validResponses...)
	cases = append(cases, diffOnlyResponses...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = "GET"
			}
			in := []byte(c.in)
			ours := parseForDiff(method, in)
			if ours.err != nil || !ours.headSeen {
				t.Fatalf("our parser: %v", ours.err)
			}
			resp, err := readWithNetHTTP(method, in)
			if err != nil {
				t.Fatalf("net/http: %v", err)
			}
			if err := compareHeads(ours, resp); err != nil {
				t.Fatal(err)
			}
			if ours.tunnel {
				return
			}
			err = compareBodies(ours, resp)
			switch {
			case c.netHTTPBodyDiffers != "" && err == nil:
				t.Fatalf("net/http read the body; expected it not to (%s)", c.netHTTPBodyDiffers)
			case c.netHTTPBodyDiffers != "":
				t.Logf("known difference (%s): %v", c.netHTTPBodyDiffers, err)
			case err != nil:
				t.Fatal(err)
			}
		})
	}
}

// diffOnlyResponses are extra valid responses, shaped like what real
// servers send, for the differential test.
var diffOnlyResponses = []respCase{
	{name: "nginx-like chunked gzip", in: "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\nContent-Encoding: gzip\r\n\r\n" +
		"a\r\n\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\r\n0\r\n\r\n"},
	{name: "pragma no-cache", in: okHead + "Pragma: no-cache\r\nContent-Length: 0\r\n\r\n"},
	{name: "redirect", in: "HTTP/1.1 301 Moved Permanently\r\nLocation: https://example.com/\r\nContent-Length: 0\r\n\r\n"},
	{name: "many set-cookie", in: okHead + "Set-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; HttpOnly\r\nset-cookie: c=3\r\nContent-Length: 1\r\n\r\nx"},
	{name: "HTTP/1.0 server", in: "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot found\n"},
	{name: "trailers declared and sent", in: okHead + "Trailer: Grpc-Status, Grpc-Message\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\ngrpc-status: 0\r\nGrpc-Message: ok\r\n\r\n"},
	{name: "closed keep-alive 1.1", in: okHead + "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"},
	{name: "head 304", method: "HEAD", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"},
	{name: "500 close-delimited with close", in: "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n" + strings.Repeat("oops ", 100)},
}
