package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAppendRequestHead(t *testing.T) {
	tests := []struct {
		name string
		head RequestHead
		want string
	}{
		{
			name: "minimal GET",
			head: RequestHead{Target: "/", Host: "example.com"},
			want: "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		},
		{
			name: "fields, sorted header, close",
			head: RequestHead{
				Method: "GET", Target: "/a/b%20c?q=1&r=%E2%82%AC", Host: "example.com:8080",
				Fields: []HeaderField{{"User-Agent", "egress/1"}, {"Accept", "*/*"}},
				Header: http.Header{"X-B": {"2"}, "X-A": {"1", "one"}, "Accept-Encoding": {"gzip"}},
				Close:  true,
			},
			want: "GET /a/b%20c?q=1&r=%E2%82%AC HTTP/1.1\r\nHost: example.com:8080\r\n" +
				"User-Agent: egress/1\r\nAccept: */*\r\n" +
				"Accept-Encoding: gzip\r\nX-A: 1\r\nX-A: one\r\nX-B: 2\r\n" +
				"Connection: close\r\n\r\n",
		},
		{
			name: "POST with length",
			head: RequestHead{Method: "POST", Target: "/upload", Host: "h", ContentLength: 1234},
			want: "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 1234\r\n\r\n",
		},
		{
			name: "POST empty announces zero",
			head: RequestHead{Method: "POST", Target: "/", Host: "h"},
			want: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
		},
		{
			name: "custom method empty announces zero",
			head: RequestHead{Method: "PROPFIND", Target: "/", Host: "h"},
			want: "PROPFIND / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
		},
		{
			name: "DELETE empty does not",
			head: RequestHead{Method: "DELETE", Target: "/x", Host: "h"},
			want: "DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n",
		},
		{
			name: "PUT chunked",
			head: RequestHead{Method: "PUT", Target: "/", Host: "h", ContentLength: -1, Fields: []HeaderField{{"Trailer", "X-Checksum"}}},
			want: "PUT / HTTP/1.1\r\nHost: h\r\nTrailer: X-Checksum\r\nTransfer-Encoding: chunked\r\n\r\n",
		},
		{
			name: "owned fields are skipped",
			head: RequestHead{
				Method: "POST", Target: "/", Host: "right", ContentLength: 3,
				Fields: []HeaderField{{"host", "wrong"}, {"content-length", "99"}, {"Transfer-Encoding", "chunked"}},
				Header: http.Header{"Host": {"wrong"}, "Content-Length": {"7"}, "transfer-encoding": {"gzip"}, "X": {"y"}},
			},
			want: "POST / HTTP/1.1\r\nHost: right\r\nX: y\r\nContent-Length: 3\r\n\r\n",
		},
		{
			name: "caller's Connection close is not repeated",
			head: RequestHead{Target: "/", Host: "h", Close: true, Header: http.Header{"Connection": {"Upgrade, close"}, "Upgrade": {"websocket"}}},
			want: "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n",
		},
		{
			name: "caller's Connection kept, close added",
			head: RequestHead{Target: "/", Host: "h", Close: true, Fields: []HeaderField{{"Connection", "Upgrade"}}},
			want: "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nConnection: close\r\n\r\n",
		},
		{
			name: "absolute-form through a proxy",
			head: RequestHead{Target: "http://example.com:80/x?y", Host: "example.com:80"},
			want: "GET http://example.com:80/x?y HTTP/1.1\r\nHost: example.com:80\r\n\r\n",
		},
		{
			name: "authority-form for CONNECT",
			head: RequestHead{Method: "CONNECT", Target: "[2001:db8::1]:443", Host: "[2001:db8::1]:443"},
			want: "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n",
		},
		{
			name: "asterisk-form",
			head: RequestHead{Method: "OPTIONS", Target: "*", Host: "h"},
			want: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
		},
		{
			name: "empty Host and values with tabs and obs-text",
			head: RequestHead{Target: "/", Fields: []HeaderField{{"X-Empty", ""}, {"X-Text", "a\tb caf\xc3\xa9"}}},
			want: "GET / HTTP/1.1\r\nHost: \r\nX-Empty: \r\nX-Text: a\tb caf\xc3\xa9\r\n\r\n",
		},
		{
			name: "IPv6 host with zone",
			head: RequestHead{Target: "/", Host: "[fe80::1%25eth0]:8080"},
			want: "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]:8080\r\n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("prefix:")
			got, err := AppendRequestHead(prefix, &tt.head)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, prefix) {
				t.Fatalf("prefix lost: %q", got)
			}
			if s := string(got[len(prefix):]); s != tt.want {
				t.Fatalf("got\n%q\nwant\n%q", s, tt.want)
			}
			// Whatever we write, net/http's server side must read the same.
			req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tt.want)))
			if err != nil {
				t.Fatalf("http.ReadRequest: %v", err)
			}
			if req.RequestURI != tt.head.Target {
				t.Errorf("RequestURI = %q", req.RequestURI)
			}
		})
	}
}

func TestAppendRequestHeadInvalid(t *testing.T) {
	tests := []struct {
		name string
		head RequestHead
		err  error
	}{
		{"method with space", RequestHead{Method: "GET /", Target: "/", Host: "h"}, ErrBadMethod},
		{"method with CRLF", RequestHead{Method: "GET\r\n", Target: "/", Host: "h"}, ErrBadMethod},
		{"empty target", RequestHead{Target: "", Host: "h"}, ErrBadTarget},
		{"target with space", RequestHead{Target: "/a b", Host: "h"}, ErrBadTarget},
		{"target with CRLF", RequestHead{Target: "/a\r\nX-Injected: 1", Host: "h"}, ErrBadTarget},
		{"target with NUL", RequestHead{Target: "/a\x00", Host: "h"}, ErrBadTarget},
		{"target with tab", RequestHead{Target: "/a\tb", Host: "h"}, ErrBadTarget},
		{"target with non-ASCII", RequestHead{Target: "/caf\xc3\xa9", Host: "h"}, ErrBadTarget},
		{"target with fragment", RequestHead{Target: "/a#frag", Host: "h"}, ErrBadTarget},
		{"target with bad escape", RequestHead{Target: "/a%zz", Host: "h"}, ErrBadTarget},
		{"target with short escape", RequestHead{Target: "/a%4", Host: "h"}, ErrBadTarget},
		{"target relative", RequestHead{Target: "a/b", Host: "h"}, ErrBadTarget},
		{"asterisk not OPTIONS", RequestHead{Target: "*", Host: "h"}, ErrBadTarget},
		{"absolute-form without authority", RequestHead{Target: "http:/x", Host: "h"}, ErrBadTarget},
		{"absolute-form with userinfo", RequestHead{Target: "http://user:pw@h/", Host: "h"}, ErrBadTarget},
		{"CONNECT without port", RequestHead{Method: "CONNECT", Target: "example.com", Host: "example.com"}, ErrBadTarget},
		{"CONNECT with path", RequestHead{Method: "CONNECT", Target: "example.com:443/x", Host: "h"}, ErrBadTarget},
		{"host with space", RequestHead{Target: "/", Host: "a b"}, ErrBadHost},
		{"host with CRLF", RequestHead{Target: "/", Host: "h\r\nX: y"}, ErrBadHost},
		{"host with path", RequestHead{Target: "/", Host: "h/x"}, ErrBadHost},
		{"host with bad port", RequestHead{Target: "/", Host: "h:8o"}, ErrBadHost},
		{"host with unclosed bracket", RequestHead{Target: "/", Host: "[::1"}, ErrBadHost},
		{"field name with space", RequestHead{Target: "/", Host: "h", Fields: []HeaderField{{"Bad Name", "x"}}}, ErrBadFieldName},
		{"field name with colon", RequestHead{Target: "/", Host: "h", Fields: []HeaderField{{"X:Y", "x"}}}, ErrBadFieldName},
		{"empty field name", RequestHead{Target: "/", Host: "h", Fields: []HeaderField{{"", "x"}}}, ErrBadFieldName},
		{"header key invalid", RequestHead{Target: "/", Host: "h", Header: http.Header{"X\r\nY": {"v"}}}, ErrBadFieldName},
		{"value with CRLF", RequestHead{Target: "/", Host: "h", Fields: []HeaderField{{"X", "a\r\nX-Injected: 1"}}}, ErrBadFieldValue},
		{"value with LF", RequestHead{Target: "/", Host: "h", Header: http.Header{"X": {"a\nb"}}}, ErrBadFieldValue},
		{"value with CR", RequestHead{Target: "/", Host: "h", Header: http.Header{"X": {"ok", "a\rb"}}}, ErrBadFieldValue},
		{"value with NUL", RequestHead{Target: "/", Host: "h", Fields: []HeaderField{{"X", "a\x00b"}}}, ErrBadFieldValue},
		{"value with DEL", RequestHead{Target: "/", Host: "h", Fields: []HeaderField{{"X", "a\x7f"}}}, ErrBadFieldValue},
		{"trailer announcing content-length", RequestHead{Target: "/", Host: "h", ContentLength: -1, Fields: []HeaderField{{"Trailer", "X-Sum, Content-Length"}}}, ErrForbiddenTrailer},
		{"negative length", RequestHead{Method: "POST", Target: "/", Host: "h", ContentLength: -2}, ErrBadLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("keep")
			got, err := AppendRequestHead(prefix, &tt.head)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("err %T is not a *RequestError", err)
			}
			if string(got) != "keep" {
				t.Errorf("dst changed on error: %q", got)
			}
			t.Log(err)
		})
	}
}

func TestRequestErrorMessage(t *testing.T) {
	_, err := AppendRequestHead(nil, &RequestHead{Target: "/", Host: "h", Fields: []HeaderField{{"X-Id", "1\r\nEvil: 1"}}})
	want := `http1: invalid header field value in "X-Id": "1\r\nEvil: 1"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestChunkEncoding(t *testing.T) {
	var b []byte
	b = AppendChunk(b, []byte("hello"))
	b = AppendChunk(b, nil) // must not end the body
	b = AppendChunk(b, bytes.Repeat([]byte("x"), 26))
	b = AppendChunkHeader(b, 3)
	b = append(b, "abc\r\n"...)
	b = AppendChunkHeader(b, 0)
	b, err := AppendLastChunk(b, http.Header{"X-Sum": {"abc"}, "X-Count": {"3"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "5\r\nhello\r\n1a\r\n" + strings.Repeat("x", 26) + "\r\n3\r\nabc\r\n0\r\nX-Count: 3\r\nX-Sum: abc\r\n\r\n"
	if string(b) != want {
		t.Fatalf("got %q\nwant %q", b, want)
	}

	// Our parser and net/http both decode it.
	in := okHead + "Transfer-Encoding: chunked\r\n\r\n" + want
	r := whole("GET", in)
	if r.err != nil || r.body != "hello"+strings.Repeat("x", 26)+"abc" || r.trailers != `X-Count="3", X-Sum="abc"` {
		t.Errorf("parser: %s", r)
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(in)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != r.body || resp.Trailer.Get("X-Sum") != "abc" {
		t.Errorf("net/http: %q %v %v", body, err, resp.Trailer)
	}

	b, err = AppendLastChunk([]byte("x"), nil)
	if err != nil || string(b) != "x0\r\n\r\n" {
		t.Errorf("AppendLastChunk(nil) = %q, %v", b, err)
	}
	for _, bad := range []http.Header{
		{"Content-Length": {"1"}},
		{"transfer-encoding": {"chunked"}},
		{"Trailer": {"X"}},
		{"Host": {"h"}},
		{"Bad Name": {"x"}},
		{"X": {"a\r\nb"}},
	} {
		b, err := AppendLastChunk([]byte("x"), bad)
		var re *RequestError
		if !errors.As(err, &re) || string(b) != "x" {
			t.Errorf("AppendLastChunk(%v) = %q, %v", bad, b, err)
		}
	}
}
