package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzRequestParser checks, for any input, that the parser does not panic;
// that every error is typed; that whole, byte-by-byte and randomly split
// input give the same result; that when both this parser and
// http.ReadRequest accept the first request, they agree on its method,
// target and body; and that hostile input costs bounded memory (see
// checkSectionMemory).
func FuzzRequestParser(f *testing.F) {
	for _, c := range validRequests {
		f.Add([]byte(c.in), uint64(len(c.in)), uint8(0))
	}
	for _, c := range invalidRequests {
		f.Add([]byte(c.in), uint64(1), uint8(0x80))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a head without end"), uint64(5), uint8(0x80))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, sel uint8) {
		var p RequestParser
		if sel&0x80 != 0 {
			p.Limits = smallLimits
		}
		whole := parseRequests(&p, [][]byte{data})
		checkRequestErrorType(t, whole.err)
		checkRequestErrorType(t, whole.eofErr)
		checkSplits(t, data, seed, whole.String(), func(chunks [][]byte) string {
			return parseRequests(&p, chunks).String()
		})
		if sel&0x80 == 0 && len(whole.bodies) > 0 {
			compareFirstRequest(t, data)
		}
		p.Reset()
		checkSectionMemory(t, &p.bodyFramer, p.Feed, func() bool { return false }, p.Limits, data, seed, checkRequestErrorType)
	})
}

func checkRequestErrorType(t *testing.T, err error) {
	var pe *ProtocolError
	var le *LimitError
	if err == nil || errors.As(err, &pe) || errors.As(err, &le) || errors.Is(err, ErrRequestTruncated) {
		return
	}
	t.Fatalf("untyped error %T: %v", err, err)
}

// compareFirstRequest parses data's first request with both parsers.
// net/http is laxer in some places (bare LF, spaces in the request line)
// and stricter in others (it validates the target as a URI), so only a
// request both accept completely is compared.
func compareFirstRequest(t *testing.T, data []byte) {
	var p RequestParser
	var method, target string
	var body []byte
	in := data
	for {
		ev, n, err := p.Feed(in)
		in = in[n:]
		if err != nil || ev == EventNone {
			return // incomplete or refused: nothing to compare
		}
		switch ev {
		case EventHead:
			method, target = string(p.Method()), string(p.Target())
		case EventBody:
			body = append(body, p.Body()...)
		}
		if ev == EventDone {
			break
		}
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return
	}
	theirs, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	if req.Method != method || req.RequestURI != target || !bytes.Equal(theirs, body) {
		t.Fatalf("net/http read %s %s body %q; we read %s %s body %q\n%q",
			req.Method, req.RequestURI, theirs, method, target, body, data)
	}
}

// FuzzResponseHead checks that AppendResponseHead either refuses its input
// with a *RequestError, leaving dst alone, or writes a head that
// http.ReadResponse reads back exactly: the same status code and reason
// phrase; every field given, names and values in order, and no other
// fields than the framing and "Connection: close" the encoder owns; the
// framing the status and ContentLength call for; the connection fate; and
// nothing after the head.
func FuzzResponseHead(f *testing.F) {
	f.Add(200, "", "Content-Type", "text/plain", "X-Id", "1", "Cache-Control", "no-store", int64(5), uint8(0))
	f.Add(404, "Gone Fishing", "X-A", "1", "x-a", " 2\t", "Set-Cookie", "a=b", int64(-1), uint8(1|2))
	f.Add(204, "", "Connection", "close", "Content-Length", "3", "Transfer-Encoding", "chunked", int64(3), uint8(2))
	f.Add(103, "", "Link", "</a.css>; rel=preload", "Host", "h", "Trailer", "X-T", int64(0), uint8(2))
	f.Add(599, "", "Trailer", "Grpc-Status", "Connection", "keep-alive", "Pragma", "no-cache", int64(-1), uint8(3))
	f.Add(304, "Not Changed", "ETag", `"x"`, "Vary", "", "connection", "Upgrade, CLOSE", int64(7), uint8(2))
	f.Fuzz(func(t *testing.T, code int, reason, n1, v1, n2, v2, hk, hv string, cl int64, flags uint8) {
		h := &ResponseHead{StatusCode: code, Reason: reason, ContentLength: cl, Close: flags&1 != 0,
			Fields: []HeaderField{{n1, v1}, {n2, v2}}}
		if flags&2 != 0 {
			h.Header = http.Header{hk: {hv}}
		}
		out, err := AppendResponseHead([]byte("PREFIX"), h)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || string(out) != "PREFIX" {
				t.Fatalf("bad failure: %#v, dst %q", err, out)
			}
			return
		}
		if !bytes.HasPrefix(out, []byte("PREFIX")) {
			t.Fatalf("prefix lost: %q", out)
		}
		wire := out[len("PREFIX"):]
		br := bufio.NewReader(bytes.NewReader(wire))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("http.ReadResponse: %v\n%q", err, wire)
		}
		if br.Buffered() != 0 {
			t.Fatalf("%d bytes after the head\n%q", br.Buffered(), wire)
		}
		if reason == "" {
			reason = http.StatusText(code)
		}
		if resp.StatusCode != code || resp.Status != strconv.Itoa(code)+" "+reason || resp.Proto != "HTTP/1.1" {
			t.Fatalf("status line read as %q %q, want %d %q\n%q", resp.Proto, resp.Status, code, reason, wire)
		}

		bodiless := code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
		chunked := !bodiless && cl < 0
		want, closeTok := encodedFields(h.Fields, h.Header, h.Close)
		// What net/http does with the fields it reads besides: it drops
		// Connection when it holds close (read back as Close), and
		// Transfer-Encoding and Trailer with chunked framing (read back
		// as TransferEncoding and Trailer).
		if closeTok {
			want.Del("Connection")
		}
		wantCL := int64(0)
		switch {
		case chunked:
			want.Del("Trailer")
			wantCL = -1
		case !bodiless:
			want.Set("Content-Length", strconv.FormatInt(cl, 10))
			wantCL = cl
		}
		if !reflect.DeepEqual(resp.Header, want) {
			t.Fatalf("fields read as\n%q\nwant\n%q\n%q", resp.Header, want, wire)
		}
		if resp.ContentLength != wantCL || chunked != slices.Equal(resp.TransferEncoding, []string{"chunked"}) ||
			!chunked && resp.TransferEncoding != nil {
			t.Fatalf("framing read as ContentLength %d TransferEncoding %q, want %d chunked %v\n%q",
				resp.ContentLength, resp.TransferEncoding, wantCL, chunked, wire)
		}
		if resp.Close != closeTok {
			t.Fatalf("Close read as %v, want %v\n%q", resp.Close, closeTok, wire)
		}
	})
}

// encodedFields is what net/http's reader must hold after reading the
// fields an encoder wrote from fields, hdr and closeConn: every field the
// encoder does not own (Host, Content-Length, Transfer-Encoding), Fields
// first and then hdr by sorted key, values trimmed of the blanks a reader
// strips, then "Connection: close" if closeConn asks for it and no
// Connection field already holds the close token. It also reports whether
// the head carries that token. net/http's "Pragma: no-cache" rule (which
// adds Cache-Control) is applied; the framing is the caller's.
//
// It is written apart from the encoder, on purpose: the encoder's own
// helpers here would make a broken encoder agree with itself.
func encodedFields(fields []HeaderField, hdr http.Header, closeConn bool) (http.Header, bool) {
	want := http.Header{}
	closeTok := false
	add := func(name, value string) {
		switch strings.ToLower(name) {
		case "host", "content-length", "transfer-encoding":
			return
		}
		want.Add(name, strings.Trim(value, " \t"))
		if strings.EqualFold(name, "Connection") && holdsClose(value) {
			closeTok = true
		}
	}
	for _, f := range fields {
		add(f.Name, f.Value)
	}
	for _, k := range slices.Sorted(maps.Keys(hdr)) {
		for _, v := range hdr[k] {
			add(k, v)
		}
	}
	if closeConn && !closeTok {
		want.Add("Connection", "close")
		closeTok = true
	}
	if p := want["Pragma"]; len(p) > 0 && p[0] == "no-cache" && want["Cache-Control"] == nil {
		want["Cache-Control"] = []string{"no-cache"}
	}
	return want, closeTok
}

// holdsClose reports whether the comma-separated list v holds the token
// "close", in any ASCII case (and only ASCII: "ſ" is not an "s" here).
func holdsClose(v string) bool {
	for e := range strings.SplitSeq(v, ",") {
		e = strings.Trim(e, " \t")
		if len(e) == len("close") && strings.ToLower(e) == "close" && isASCII(e) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
