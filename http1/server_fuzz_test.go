package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
)

// FuzzRequestParser checks, for any input, that the parser does not panic;
// that every error is typed; that whole, byte-by-byte and randomly split
// input give the same result; and that when both this parser and
// http.ReadRequest accept the first request, they agree on its method,
// target and body.
func FuzzRequestParser(f *testing.F) {
	for _, c := range validRequests {
		f.Add([]byte(c.in), uint64(len(c.in)), uint8(0))
	}
	for _, c := range invalidRequests {
		f.Add([]byte(c.in), uint64(1), uint8(0x80))
	}
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
// http.ReadResponse reads back with the same status, fields and framing.
func FuzzResponseHead(f *testing.F) {
	f.Add(200, "", "Content-Type", "text/plain", int64(5), false)
	f.Add(404, "Gone Fishing", "X-A", "1", int64(-1), true)
	f.Add(204, "", "Connection", "close", int64(3), false)
	f.Fuzz(func(t *testing.T, code int, reason, name, value string, cl int64, closeConn bool) {
		h := &ResponseHead{StatusCode: code, Reason: reason, ContentLength: cl, Close: closeConn,
			Fields: []HeaderField{{name, value}}}
		out, err := AppendResponseHead([]byte("PREFIX"), h)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || string(out) != "PREFIX" {
				t.Fatalf("bad failure: %#v, dst %q", err, out)
			}
			return
		}
		wire := out[len("PREFIX"):]
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(wire)), nil)
		if err != nil {
			if code < 200 {
				return // net/http reads interim responses only in its Transport
			}
			t.Fatalf("http.ReadResponse: %v\n%q", err, wire)
		}
		if resp.StatusCode != code {
			t.Fatalf("status %d, wrote %d\n%q", resp.StatusCode, code, wire)
		}
		noBody := code == 204 || code == 304 || code < 200
		switch {
		case noBody:
		case cl < 0 && (len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked"):
			t.Fatalf("chunked not announced\n%q", wire)
		case cl >= 0 && resp.Header.Get("Content-Length") != strconv.FormatInt(cl, 10):
			t.Fatalf("Content-Length %q, want %d\n%q", resp.Header.Get("Content-Length"), cl, wire)
		}
	})
}
