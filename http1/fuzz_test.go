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

	"github.com/egress-go/egress/internal/bufpool"
	"github.com/egress-go/egress/internal/testkit"
)

var fuzzMethods = [...]string{"GET", "HEAD", "POST", "CONNECT"}

// smallLimits makes the limit paths reachable with small fuzz inputs.
var smallLimits = Limits{MaxHeadBytes: 200, MaxHeaderFields: 4, MaxTrailerBytes: 40, MaxTrailerFields: 2}

// FuzzResponseParser checks, for any input, that the parser does not
// panic; that whole, byte-by-byte and randomly split input give the same
// result; that a head it accepts is accepted and read the same way by
// net/http (status line, fields, framing, connection fate), and so is a
// body it completes; and that hostile input costs bounded memory (see
// checkSectionMemory).
//
// Known, deliberate differences (we are stricter elsewhere, which needs no
// exception): net/http refuses a "Trailer" field that names Content-Length,
// Transfer-Encoding or Trailer, which this parser does not interpret at
// all; it checks the framing fields of a 101 or a 2xx answer to CONNECT,
// which are ignored here as RFC 9110 asks; it refuses whitespace before
// ";" in a chunk line, which RFC 9112 §7.1.1 allows (BWS); and it gives up
// on a chunked body whose chunk lines outweigh its data by more than
// 16 KiB ("too much non-data"), where this parser bounds each chunk line.
func FuzzResponseParser(f *testing.F) {
	for _, c := range validResponses {
		f.Add([]byte(c.in), uint64(len(c.in)), uint8(0))
	}
	// Sections cut off, for the filler to extend.
	f.Add([]byte("HTTP/1.1 200 OK\r\nServer: a head without end"), uint64(7), uint8(0x80))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a trailer"), uint64(3), uint8(0x80))
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
		p.Reset(method)
		checkSectionMemory(t, &p.bodyFramer, p.Feed, p.Tunnel, p.Limits, data, seed, checkErrorType)
	})
}

// checkSectionMemory feeds a fresh parser (f is its framer, feed its Feed,
// tunnel its Tunnel) data whole, then filler that ends no line, as much as
// the larger of its head and trailer limits plus one, in pieces drawn from
// seed. After every call the head or trailer section it buffers must be
// within its limit, in a pooled buffer that grows with the bytes that
// came, and a parser that failed must hold nothing. The filler must end in
// an error (checked by checkErr), a *LimitError if it was extending a
// section, unless the parser is reading a body, where it buffers nothing.
func checkSectionMemory(t *testing.T, f *bodyFramer, feed func([]byte) (Event, int, error), tunnel func() bool,
	l Limits, data []byte, seed uint64, checkErr func(*testing.T, error)) {
	t.Helper()
	limit := max(l.maxHeadBytes(), l.maxTrailerBytes())
	check := func(err error) {
		t.Helper()
		secLimit := l.maxHeadBytes()
		if f.state == stTrailer {
			secLimit = l.maxTrailerBytes()
		}
		switch {
		case err != nil && f.buf != nil:
			t.Fatalf("failed parser (%v) holds a buffer of %d bytes", err, cap(f.buf))
		case f.secBytes > secLimit || len(f.buf) > secLimit:
			t.Fatalf("parser holds %d bytes of a section (%d in its buffer), limit %d", f.secBytes, len(f.buf), secLimit)
		case cap(f.buf) > poolCap(2*len(f.buf)):
			t.Fatalf("parser holds %d bytes in a buffer of %d", len(f.buf), cap(f.buf))
		}
	}
	// feedAll feeds in, handling every event it completes; it reports an
	// error, or that the rest is not the parser's to read.
	feedAll := func(in []byte) (stop bool, err error) {
		for range 2*len(in) + 16 {
			ev, n, err := feed(in)
			in = in[n:]
			check(err)
			switch {
			case err != nil:
				return true, err
			case ev == EventNone:
				return false, nil
			case ev == EventDone && tunnel():
				return true, nil
			}
		}
		t.Fatalf("Feed reports events without end")
		return true, nil
	}
	if stop, _ := feedAll(data); stop {
		return
	}
	inSection := func() bool { return f.state == stHead || f.state == stTrailer }
	rng := rand.New(rand.NewPCG(seed, 1))
	filler := bytes.Repeat([]byte{'z'}, limit/8+1)
	run := 0 // filler bytes fed to the section being read, at least
	for fed := 0; fed < 3*(limit+1); {
		n := 1 + rng.IntN(len(filler))
		wasInSection := inSection()
		stop, err := feedAll(filler[:n])
		fed += n
		var le *LimitError
		switch {
		case err != nil && wasInSection && !errors.As(err, &le):
			t.Fatalf("section past its limit: %v, want a *LimitError", err)
		case err != nil:
			checkErr(t, err)
			return
		case stop:
			return
		}
		// A body may end inside a piece and a new section begin (the
		// next pipelined request): count only whole pieces fed to it.
		if wasInSection && inSection() {
			run += n
		} else {
			run = 0
		}
		if run > limit {
			t.Fatalf("%d bytes that end no line in a section: no error, %d bytes held", run, f.secBytes)
		}
	}
	if !inSection() && (f.secBytes != 0 || f.buf != nil) {
		t.Fatalf("parser in a body holds %d bytes", f.secBytes)
	}
}

// poolCap returns the capacity of the pooled buffer that holds n bytes
// (the pool's smallest size class of at least n), or 0 for none.
func poolCap(n int) int {
	if n == 0 {
		return 0
	}
	b := bufpool.Get(n)
	defer bufpool.Put(b)
	return cap(b)
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

// obsFold finds a header line continued on the next (obs-fold).
var obsFold = regexp.MustCompile("\n[ \t]")

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
		// net/http keeps the space that ends a value folded onto a
		// blank line ("chunked\r\n \r\n" reads "chunked "), and then
		// refuses the coding; the fold is a space and the value has
		// no trailing whitespace (RFC 9112 §5.2, RFC 9110 §5.5).
		if strings.Contains(err.Error(), "unsupported transfer encoding") && obsFold.Match(data) {
			return
		}
		t.Fatalf("we accepted a head that net/http refuses: %v\n%q", err, data)
	}
	if err := compareHeads(ours, resp); err != nil {
		t.Fatalf("%v\n%q", err, data)
	}
	// net/http keeps "code reason" as Status, and just "code" when the
	// line ends there.
	if reason := finalReason(method, data); strings.TrimPrefix(resp.Status[3:], " ") != reason {
		t.Fatalf("status read as %q by net/http, reason %q by us\n%q", resp.Status, reason, data)
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

// finalReason returns the reason phrase of the final response head in
// data, as the parser reads it.
func finalReason(method string, data []byte) string {
	var p ResponseParser
	p.Reset(method)
	for range len(data) + 1 {
		ev, n, err := p.Feed(data)
		data = data[n:]
		if err != nil || ev == EventNone {
			return ""
		}
		if ev == EventHead {
			return string(p.Reason())
		}
	}
	return ""
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
