package http1

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

var fuzzMethods = [...]string{"GET", "HEAD", "POST", "CONNECT"}

// smallLimits makes the limit paths reachable with small fuzz inputs.
var smallLimits = Limits{MaxHeadBytes: 200, MaxHeaderFields: 4, MaxTrailerBytes: 40, MaxTrailerFields: 2}

// FuzzResponseParser checks, for any input, that the parser does not
// panic; that whole, byte-by-byte and randomly split input give the same
// result; and that a head it accepts is accepted and read the same way by
// net/http, and so is a body it completes.
//
// Known, deliberate differences (we are stricter elsewhere, which needs no
// exception): net/http refuses a "Trailer" field that names Content-Length,
// Transfer-Encoding or Trailer, which this parser does not interpret at
// all; it checks the framing fields of a 101 or a 2xx answer to CONNECT,
// which are ignored here as RFC 9110 asks; and it refuses whitespace
// before ";" in a chunk line, which RFC 9112 §7.1.1 allows (BWS).
func FuzzResponseParser(f *testing.F) {
	for _, c := range validResponses {
		f.Add([]byte(c.in), uint64(len(c.in)), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, sel uint8) {
		method := fuzzMethods[int(sel)%len(fuzzMethods)]
		var p ResponseParser
		if sel&0x80 != 0 {
			p.Limits = smallLimits
		}
		whole := parse(&p, method, [][]byte{data}, true)
		checkErrorType(t, whole.err)
		checkSplits(t, data, seed, whole.String(), func(chunks [][]byte) string {
			return parse(&p, method, chunks, true).String()
		})
		if sel&0x80 == 0 {
			differential(t, method, data)
		}
	})
}

// checkSplits requires run, a parser fed with chunks, to render the same
// result want as for the whole input when data is cut at up to seven
// offsets drawn from seed and, for inputs small enough to be quick, when
// it is fed a byte at a time.
func checkSplits(t *testing.T, data []byte, seed uint64, want string, run func(chunks [][]byte) string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, uint64(len(data))))
	var cuts []int
	if len(data) > 0 {
		for range rng.IntN(8) {
			cuts = append(cuts, rng.IntN(len(data)+1))
		}
	}
	slices.Sort(cuts)
	if got := run(testkit.SplitAt(data, cuts...)); got != want {
		t.Fatalf("split at %v:\n got %s\nwant %s", cuts, got, want)
	}
	if len(data) <= 512 {
		if got := run(testkit.Bytewise(data)); got != want {
			t.Fatalf("byte by byte:\n got %s\nwant %s", got, want)
		}
	}
}

// checkErrorType requires every error to be one of the package's typed
// errors, so that a caller can always tell what went wrong.
func checkErrorType(t *testing.T, err error) {
	var pe *ProtocolError
	var le *LimitError
	var te *TruncatedError
	switch {
	case err == nil, errors.As(err, &pe), errors.As(err, &le), errors.As(err, &te),
		err == ErrNoResponse, err == ErrHeadTruncated:
		return
	}
	t.Fatalf("untyped error %T: %v", err, err)
}

var bwsBeforeExt = regexp.MustCompile(`[0-9a-fA-F][ \t]+;`)

func differential(t *testing.T, method string, data []byte) {
	ours := parseForDiff(method, data)
	if !ours.headSeen {
		return
	}
	resp, err := readWithNetHTTP(method, data)
	if err != nil {
		// A tunnel's framing fields are ignored (RFC 9110 §9.3.6 for
		// CONNECT; a 101 has no content); http.ReadResponse still checks
		// them and leaves tunnels to the Transport.
		if strings.Contains(err.Error(), "bad trailer key") || ours.tunnel {
			return
		}
		t.Fatalf("we accepted a head that net/http refuses: %v\n%q", err, data)
	}
	if err := compareHeads(ours, resp); err != nil {
		t.Fatalf("%v\n%q", err, data)
	}
	if ours.err != nil || ours.tunnel {
		return
	}
	if err := compareBodies(ours, resp); err != nil {
		if strings.Contains(err.Error(), "invalid byte in chunk length") && bwsBeforeExt.Match(data) ||
			strings.Contains(err.Error(), "too much non-data") {
			return
		}
		t.Fatalf("%v\n%q", err, data)
	}
}

// FuzzRequestHead checks that AppendRequestHead either refuses its input
// with a *RequestError, leaving dst alone, or writes a head that
// http.ReadRequest reads back exactly: same method, target, host, fields,
// framing and connection fate, and nothing before or after it.
func FuzzRequestHead(f *testing.F) {
	f.Add("GET", "/", "example.com", "Accept", "*/*", "X-Id", "1", int64(0), uint8(0))
	f.Add("POST", "/a?b=c", "h:80", "Content-Type", "text/plain", "Connection", "keep-alive", int64(5), uint8(1))
	f.Fuzz(func(t *testing.T, method, target, host, n1, v1, n2, v2 string, cl int64, flags uint8) {
		h := &RequestHead{
			Method: method, Target: target, Host: host,
			Fields:        []HeaderField{{n1, v1}},
			ContentLength: cl,
			Close:         flags&1 != 0,
		}
		if flags&2 == 0 {
			h.Header = http.Header{n2: {v2}}
		}
		prefix := []byte("PREFIX")
		out, err := AppendRequestHead(prefix, h)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || string(out) != "PREFIX" {
				t.Fatalf("bad failure: %#v, dst %q", err, out)
			}
			return
		}
		if !bytes.HasPrefix(out, prefix) {
			t.Fatalf("prefix lost: %q", out)
		}
		wire := out[len(prefix):]
		br := bufio.NewReader(bytes.NewReader(wire))
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("http.ReadRequest: %v\n%q", err, wire)
		}
		if br.Buffered() != 0 {
			t.Fatalf("%d bytes after the head\n%q", br.Buffered(), wire)
		}
		if method == "" {
			method = "GET"
		}
		if req.Method != method || req.RequestURI != target || req.ProtoMajor != 1 || req.ProtoMinor != 1 {
			t.Fatalf("request line read as %q %q %q\n%q", req.Method, req.RequestURI, req.Proto, wire)
		}
		if target[0] == '/' && req.Host != host {
			t.Fatalf("Host read as %q, want %q\n%q", req.Host, host, wire)
		}
		// net/http keeps Connection in a request, and drops Trailer with
		// chunked framing (read back as Trailer).
		want, closeTok := encodedFields(h.Fields, h.Header, h.Close)
		switch method {
		case "GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT":
			// No "Content-Length: 0" for methods without content.
			if cl > 0 {
				want.Set("Content-Length", strconv.FormatInt(cl, 10))
			}
		default:
			if cl >= 0 {
				want.Set("Content-Length", strconv.FormatInt(cl, 10))
			}
		}
		if cl < 0 {
			want.Del("Trailer")
		}
		if !reflect.DeepEqual(req.Header, want) {
			t.Fatalf("fields read as\n%q\nwant\n%q\n%q", req.Header, want, wire)
		}
		switch {
		case cl > 0 && req.ContentLength != cl,
			cl == 0 && req.ContentLength != 0,
			cl == -1 && (req.ContentLength != -1 || len(req.TransferEncoding) != 1):
			t.Fatalf("ContentLength %d read as %d %q\n%q", cl, req.ContentLength, req.TransferEncoding, wire)
		}
		if req.Close != closeTok {
			t.Fatalf("Close read as %v, want %v\n%q", req.Close, closeTok, wire)
		}
	})
}
