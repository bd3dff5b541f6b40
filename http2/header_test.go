package http2

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// decodeBlock decodes a header block with a decoder of its own, as a
// server would, and renders its fields.
func decodeBlock(t *testing.T, dec *hpack.Decoder, block []byte) string {
	t.Helper()
	fs, err := dec.DecodeFull(block)
	if err != nil {
		t.Fatalf("hpack cannot decode our block: %v", err)
	}
	var out []string
	for _, f := range fs {
		out = append(out, f.Name+": "+f.Value)
	}
	return strings.Join(out, "\n")
}

func newEncoder() *requestEncoder {
	e := &requestEncoder{}
	e.init()
	return e
}

func TestEncodeRequest(t *testing.T) {
	for _, c := range []struct {
		name string
		req  Request
		want string // fields in order; regular fields from Header sorted
	}{
		{"GET", Request{Scheme: "https", Authority: "example.com", Path: "/a?b=c"},
			":method: GET\n:scheme: https\n:authority: example.com\n:path: /a?b=c"},
		{"Host becomes :authority", Request{Method: "GET", Scheme: "http", Path: "/",
			Fields: []HeaderField{{"Host", "h.example:8080"}, {"Accept", "*/*"}}},
			":method: GET\n:scheme: http\n:authority: h.example:8080\n:path: /\naccept: */*"},
		{"Authority wins over Host", Request{Scheme: "https", Authority: "a.example", Path: "/",
			Header: http.Header{"Host": {"b.example"}}},
			":method: GET\n:scheme: https\n:authority: a.example\n:path: /"},
		{"no authority at all", Request{Scheme: "https", Path: "/"},
			":method: GET\n:scheme: https\n:path: /"},
		{"names lowercased, connection-specific dropped", Request{Scheme: "https", Authority: "a", Path: "/",
			Fields: []HeaderField{{"Connection", "close"}, {"Keep-Alive", "5"}, {"Proxy-Connection", "x"},
				{"Transfer-Encoding", "chunked"}, {"Upgrade", "h2c"}, {"X-Custom-Thing", "1"}, {"accept", "x"}},
		}, ":method: GET\n:scheme: https\n:authority: a\n:path: /\nx-custom-thing: 1\naccept: x"},
		{"TE trailers kept, TE gzip dropped", Request{Scheme: "https", Authority: "a", Path: "/",
			Fields: []HeaderField{{"TE", "gzip"}, {"Te", " Trailers "}}},
			":method: GET\n:scheme: https\n:authority: a\n:path: /\nte: trailers"},
		{"cookie crumbs", Request{Scheme: "https", Authority: "a", Path: "/",
			Fields: []HeaderField{{"Cookie", "a=1; b=2; c=3"}}},
			":method: GET\n:scheme: https\n:authority: a\n:path: /\ncookie: a=1\ncookie: b=2\ncookie: c=3"},
		{"CONNECT", Request{Method: "CONNECT", Scheme: "https", Authority: "proxy.example:443", Path: "/ignored"},
			":method: CONNECT\n:authority: proxy.example:443"},
		{"POST with zero length", Request{Method: "POST", Scheme: "https", Authority: "a", Path: "/"},
			":method: POST\n:scheme: https\n:authority: a\n:path: /\ncontent-length: 0"},
		{"POST with unknown length", Request{Method: "POST", Scheme: "https", Authority: "a", Path: "/", ContentLength: -1,
			Fields: []HeaderField{{"Content-Length", "99"}}},
			":method: POST\n:scheme: https\n:authority: a\n:path: /"},
		{"PUT with a length", Request{Method: "PUT", Scheme: "https", Authority: "a", Path: "/", ContentLength: 12345,
			Fields: []HeaderField{{"Content-Length", "99"}}},
			":method: PUT\n:scheme: https\n:authority: a\n:path: /\ncontent-length: 12345"},
		{"small length", Request{Method: "PUT", Scheme: "https", Authority: "a", Path: "/", ContentLength: 5},
			":method: PUT\n:scheme: https\n:authority: a\n:path: /\ncontent-length: 5"},
		{"OPTIONS *", Request{Method: "OPTIONS", Scheme: "https", Authority: "a", Path: "*"},
			":method: OPTIONS\n:scheme: https\n:authority: a\n:path: *"},
		{"Header map", Request{Scheme: "https", Authority: "a", Path: "/",
			Header: http.Header{"Accept-Encoding": {"gzip"}, "X-Multi": {"1", "2"}}},
			":method: GET\n:scheme: https\n:authority: a\n:path: /\naccept-encoding: gzip\nx-multi: 1\nx-multi: 2"},
	} {
		e := newEncoder()
		dec := hpack.NewDecoder(4096, nil)
		block, err := e.encodeRequest([]byte("prefix"), &c.req, 0)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !strings.HasPrefix(string(block), "prefix") {
			t.Fatalf("%s: prefix lost", c.name)
		}
		got := decodeBlock(t, dec, block[len("prefix"):])
		if c.req.Header != nil {
			// Map order is random: sort the regular fields.
			lines := strings.Split(got, "\n")
			i := 0
			for i < len(lines) && lines[i][0] == ':' {
				i++
			}
			slices.Sort(lines[i:])
			got = strings.Join(lines, "\n")
		}
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestEncodeRequestRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		req  Request
		want error
	}{
		{"no scheme", Request{Authority: "a", Path: "/"}, ErrUnknownPseudo},
		{"no path", Request{Scheme: "https", Authority: "a"}, ErrUnknownPseudo},
		{"relative path", Request{Scheme: "https", Authority: "a", Path: "x"}, ErrUnknownPseudo},
		{"space in path", Request{Scheme: "https", Authority: "a", Path: "/a b"}, ErrUnknownPseudo},
		{"CR in path", Request{Scheme: "https", Authority: "a", Path: "/a\r\nb"}, ErrUnknownPseudo},
		{"slash in authority", Request{Scheme: "https", Authority: "a/b", Path: "/"}, ErrUnknownPseudo},
		{"CONNECT without authority", Request{Method: "CONNECT"}, ErrUnknownPseudo},
		{"bad method", Request{Method: "GE T", Scheme: "https", Authority: "a", Path: "/"}, ErrBadFieldValue},
		{"bad name", Request{Scheme: "https", Authority: "a", Path: "/", Fields: []HeaderField{{"a b", "1"}}}, ErrBadFieldName},
		{"empty name", Request{Scheme: "https", Authority: "a", Path: "/", Fields: []HeaderField{{"", "1"}}}, ErrBadFieldName},
		{"pseudo name", Request{Scheme: "https", Authority: "a", Path: "/", Fields: []HeaderField{{":path", "/x"}}}, ErrBadFieldName},
		{"LF in value", Request{Scheme: "https", Authority: "a", Path: "/", Fields: []HeaderField{{"x", "a\nb"}}}, ErrBadFieldValue},
		{"NUL in value", Request{Scheme: "https", Authority: "a", Path: "/", Header: http.Header{"X": {"a\x00"}}}, ErrBadFieldValue},
		{"too large for the server", Request{Scheme: "https", Authority: "a", Path: "/",
			Fields: []HeaderField{{"x", strings.Repeat("v", 1000)}}}, ErrHeaderListTooLarge},
	} {
		e := newEncoder()
		out, err := e.encodeRequest([]byte("prefix"), &c.req, 1000)
		var re *RequestError
		if !errors.Is(err, c.want) || !errors.As(err, &re) || string(out) != "prefix" {
			t.Errorf("%s: got %v (%q), want a *RequestError wrapping %v and dst untouched", c.name, err, out, c.want)
		}
	}
}

// TestEncodeRequestRefusedKeepsState checks that a refused request leaves
// the HPACK encoder as it was: the server's decoder, which never saw it,
// stays in step.
func TestEncodeRequestRefusedKeepsState(t *testing.T) {
	e := newEncoder()
	dec := hpack.NewDecoder(4096, nil)
	good := Request{Scheme: "https", Authority: "a", Path: "/1", Fields: []HeaderField{{"x-a", "1"}}}
	bad := Request{Scheme: "https", Authority: "b", Path: "/2", Fields: []HeaderField{{"x-b", "2"}, {"bad name", "3"}}}
	for i := range 3 {
		if _, err := e.encodeRequest(nil, &bad, 0); err == nil {
			t.Fatal("bad request accepted")
		}
		block, err := e.encodeRequest(nil, &good, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeBlock(t, dec, block); got != ":method: GET\n:scheme: https\n:authority: a\n:path: /1\nx-a: 1" {
			t.Fatalf("round %d: %s", i, got)
		}
	}
}

func TestEncodeTrailers(t *testing.T) {
	e := newEncoder()
	dec := hpack.NewDecoder(4096, nil)
	block, err := e.encodeTrailers(nil, []HeaderField{{"Grpc-Status", "0"}, {"X-Sum", "abc"}, {"Connection", "x"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeBlock(t, dec, block); got != "grpc-status: 0\nx-sum: abc" {
		t.Fatalf("got %s", got)
	}
	for _, fs := range [][]HeaderField{{{":status", "200"}}, {{"a b", "1"}}, {{"x", "\r"}}, {{"x", strings.Repeat("a", 100)}}} {
		out, err := e.encodeTrailers([]byte("p"), fs, 100)
		var re *RequestError
		if !errors.As(err, &re) || string(out) != "p" {
			t.Errorf("%v: got %v %q", fs, err, out)
		}
	}
}

// respBlock encodes fields as a server would.
type serverEncoder struct {
	w   appendWriter
	enc *hpack.Encoder
}

func newServerEncoder() *serverEncoder {
	s := &serverEncoder{}
	s.enc = hpack.NewEncoder(&s.w)
	return s
}

// block encodes "name: value" lines (a line without ": " is a name with an
// empty value).
func (s *serverEncoder) block(lines ...string) []byte {
	s.w.b = nil
	for _, l := range lines {
		n, v, _ := strings.Cut(l, ": ")
		s.enc.WriteField(hpack.HeaderField{Name: n, Value: v})
	}
	return s.w.b
}

func newDecoder(limit uint32) *responseDecoder {
	d := &responseDecoder{}
	d.init(4096, limit)
	return d
}

func renderHead(h *ResponseHead) string {
	var fs []string
	for _, f := range h.Fields {
		fs = append(fs, f.Name+"="+f.Value)
	}
	return fmt.Sprintf("%d cl=%d [%s]", h.Status, h.ContentLength, strings.Join(fs, " "))
}

func TestDecodeResponse(t *testing.T) {
	for _, c := range []struct {
		name     string
		lines    []string
		trailers bool
		want     string // rendered head, or the rule broken
	}{
		{"plain", []string{":status: 200", "content-type: text/plain", "content-length: 5"}, false,
			"200 cl=5 [content-type=text/plain content-length=5]"},
		{"no fields", []string{":status: 204"}, false, "204 cl=-1 []"},
		{"interim", []string{":status: 103", "link: </a>"}, false, "103 cl=-1 [link=</a>]"},
		{"repeated equal content-length", []string{":status: 200", "content-length: 5", "content-length: 5"}, false,
			"200 cl=5 [content-length=5 content-length=5]"},
		{"value with HTAB", []string{":status: 200", "x: a\tb"}, false, "200 cl=-1 [x=a\tb]"},
		{"empty value", []string{":status: 200", "x"}, false, "200 cl=-1 [x=]"},
		{"trailers", []string{"grpc-status: 0"}, true, "0 cl=-1 [grpc-status=0]"},
		{"empty trailers", nil, true, "0 cl=-1 []"},

		{"missing :status", []string{"content-type: x"}, false, "rule: http2: response without :status"},
		{"empty block", nil, false, "rule: http2: response without :status"},
		{"duplicate :status", []string{":status: 200", ":status: 200"}, false, "rule: http2: duplicate :status"},
		{"status not a number", []string{":status: 2x0"}, false, "rule: http2: invalid :status"},
		{"status 600", []string{":status: 600"}, false, "rule: http2: invalid :status"},
		{"status 99", []string{":status: 099"}, false, "rule: http2: invalid :status"},
		{"status with reason", []string{":status: 200 OK"}, false, "rule: http2: invalid :status"},
		{"request pseudo-header", []string{":status: 200", ":path: /"}, false, "rule: http2: invalid pseudo-header"},
		{"unknown pseudo-header", []string{":foo: 1", ":status: 200"}, false, "rule: http2: invalid pseudo-header"},
		{"pseudo after regular", []string{"x: 1", ":status: 200"}, false, "rule: http2: pseudo-header after regular field"},
		{"pseudo in trailers", []string{":status: 200"}, true, "rule: http2: invalid pseudo-header"},
		{"uppercase name", []string{":status: 200", "Content-Type: x"}, false, "rule: http2: uppercase header field name"},
		{"space in name", []string{":status: 200", "a b: x"}, false, "rule: http2: invalid header field name"},
		{"colon in name", []string{":status: 200", "a:b: x"}, false, "rule: http2: invalid header field name"},
		{"empty name", []string{":status: 200", ": x"}, false, "rule: http2: invalid header field name"},
		{"connection", []string{":status: 200", "connection: close"}, false, "rule: http2: connection-specific header field"},
		{"keep-alive", []string{":status: 200", "keep-alive: 5"}, false, "rule: http2: connection-specific header field"},
		{"proxy-connection", []string{":status: 200", "proxy-connection: x"}, false, "rule: http2: connection-specific header field"},
		{"transfer-encoding", []string{":status: 200", "transfer-encoding: chunked"}, false, "rule: http2: connection-specific header field"},
		{"upgrade", []string{":status: 200", "upgrade: h2c"}, false, "rule: http2: connection-specific header field"},
		{"te", []string{":status: 200", "te: trailers"}, false, "rule: http2: connection-specific header field"},
		{"connection in trailers", []string{"connection: close"}, true, "rule: http2: connection-specific header field"},
		{"CR in value", []string{":status: 200", "x: a\rb"}, false, "rule: http2: invalid header field value"},
		{"LF in value", []string{":status: 200", "x: a\nb"}, false, "rule: http2: invalid header field value"},
		{"NUL in value", []string{":status: 200", "x: a\x00b"}, false, "rule: http2: invalid header field value"},
		{"bad content-length", []string{":status: 200", "content-length: 5x"}, false, "rule: http2: invalid content-length"},
		{"negative content-length", []string{":status: 200", "content-length: -1"}, false, "rule: http2: invalid content-length"},
		{"huge content-length", []string{":status: 200", "content-length: 99999999999999999999"}, false, "rule: http2: invalid content-length"},
		{"conflicting content-length", []string{":status: 200", "content-length: 5", "content-length: 6"}, false, "rule: http2: invalid content-length"},
		{"list too large", []string{":status: 200", "x: " + strings.Repeat("a", 900), "y: " + strings.Repeat("a", 100)}, false,
			"rule: http2: header list too large"},
	} {
		enc := newServerEncoder()
		d := newDecoder(1024)
		cerr, rule, seen := d.decode(enc.block(c.lines...), c.trailers)
		if cerr != nil {
			t.Errorf("%s: connection error %v", c.name, cerr)
			continue
		}
		got := renderHead(&d.head)
		if rule != nil {
			got = "rule: " + rule.Error()
			if seen == "" && rule != ErrMissingStatus {
				t.Errorf("%s: nothing quoted", c.name)
			}
		}
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
		// The decoder stays in step after a broken rule: the next block,
		// which uses the dynamic table, decodes.
		cerr, rule, _ = d.decode(enc.block(c.lines...), c.trailers)
		if cerr != nil || (rule == nil) != (got[0] != 'r') {
			t.Errorf("%s: second block: %v %v", c.name, cerr, rule)
		}
		if _, rule, _ = d.decode(enc.block(":status: 200", "x: 1"), false); rule != nil {
			t.Errorf("%s: decoder out of step: %v", c.name, rule)
		}
	}
}

func TestDecodeCompressionErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		block []byte
	}{
		{"index beyond the tables", []byte{0xff, 0x80, 0x01}},
		{"truncated literal", []byte{0x40, 0x05, 'a'}},
		{"bad huffman", []byte{0x40, 0x81, 0xff, 0x01, 'a'}},
		{"string longer than the list limit", append([]byte{0x40, 0x7f, 0x82, 0x08}, make([]byte, 1100)...)},
		{"table size update above our setting", []byte{0x3f, 0xe1, 0xff, 0x03}},
	} {
		d := newDecoder(1024)
		cerr, _, _ := d.decode(c.block, false)
		var ce *ConnError
		if !errors.As(cerr, &ce) || ce.Code != ErrCodeCompression || !errors.Is(cerr, ErrCompression) {
			t.Errorf("%s: got %v, want a COMPRESSION_ERROR *ConnError", c.name, cerr)
		}
	}
}

func TestResponseHeadAccessors(t *testing.T) {
	h := ResponseHead{Status: 200, Fields: []HeaderField{{"content-type", "a"}, {"set-cookie", "1"}, {"set-cookie", "2"}, {"x-custom-thing", "y"}}}
	if h.Get("Content-Type") != "a" || h.Get("set-cookie") != "1" || h.Get("nope") != "" {
		t.Error("Get")
	}
	hd := h.Header()
	if hd.Get("Content-Type") != "a" || len(hd["Set-Cookie"]) != 2 || hd["Set-Cookie"][1] != "2" || hd["X-Custom-Thing"][0] != "y" {
		t.Errorf("Header: %v", hd)
	}
	// The values share one slab: adding to one key must not write into
	// the next key's value.
	hd.Add("Content-Type", "b")
	if hd.Get("Set-Cookie") != "1" || hd["X-Custom-Thing"][0] != "y" || len(hd["Content-Type"]) != 2 {
		t.Errorf("Header after Add: %v", hd)
	}
	common := ResponseHead{Status: 200, Fields: []HeaderField{{"content-type", "a"}, {"content-length", "1"}, {"date", "d"}, {"server", "s"}}}
	if a := testing.AllocsPerRun(100, func() { common.Header() }); a > 3 {
		t.Errorf("Header: %v allocations for 4 common fields, want the map's two and one slab", a)
	}
}
