package load

import (
	"fmt"
	"math"
	"testing"

	"github.com/egress-go/egress/http2"
)

// TestClassifyHTTP2 checks the error classes of HTTP/2 failures: a reset
// or a GOAWAY from the server by its frame and code, a broken protocol
// as such, whatever wraps them.
func TestClassifyHTTP2(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&http2.StreamError{StreamID: 1, Code: http2.ErrCodeInternal, Remote: true, Err: http2.ErrStreamReset}, "RST_STREAM INTERNAL_ERROR"},
		{fmt.Errorf("GET x: %w", &http2.StreamError{StreamID: 3, Code: http2.ErrCodeRefusedStream, Remote: true, Err: http2.ErrRefused}), "RST_STREAM REFUSED_STREAM"},
		{fmt.Errorf("GET x: %w", &http2.GoAwayError{LastStreamID: 1, Code: http2.ErrCodeEnhanceYourCalm, StreamID: 1}), "GOAWAY ENHANCE_YOUR_CALM"},
		{&http2.StreamError{StreamID: 5, Code: http2.ErrCodeProtocol, Err: http2.ErrMissingStatus}, ErrClassProtocol},
		{fmt.Errorf("x: %w", &http2.ConnError{Code: http2.ErrCodeFrameSize, Err: fmt.Errorf("too big")}), ErrClassProtocol},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestPushbackCodes checks the codes of the server's pushback as taken
// from the failed requests' classes: resets by code, the resets whose
// requests did not fail as REFUSED_STREAM (the one code egress replays),
// GOAWAYs by code per request failed, other classes ignored.
func TestPushbackCodes(t *testing.T) {
	errs := map[string]int64{
		"RST_STREAM CANCEL": 1, "RST_STREAM REFUSED_STREAM": 2, "GOAWAY ENHANCE_YOUR_CALM": 5,
		ErrClassReset: 7, ErrClassProtocol: 1,
	}
	rst, goaway := pushbackCodes(errs, 6)
	if len(rst) != 2 || rst["CANCEL"] != 1 || rst["REFUSED_STREAM"] != 5 {
		t.Errorf("reset codes %v, want CANCEL 1, REFUSED_STREAM 2 failed + 3 replayed", rst)
	}
	if len(goaway) != 1 || goaway["ENHANCE_YOUR_CALM"] != 5 {
		t.Errorf("GOAWAY failures %v", goaway)
	}
	if rst, goaway := pushbackCodes(map[string]int64{ErrClassReset: 3}, 0); rst != nil || goaway != nil {
		t.Errorf("no pushback: %v %v", rst, goaway)
	}
}

// TestCapStreams checks that a connection's sampled peak of streams is
// capped at the lowest limit its server set, and not when it set none.
func TestCapStreams(t *testing.T) {
	for _, tc := range []struct {
		peak      int64
		limits    []uint32
		want, lim int64
	}{
		{30, []uint32{10}, 10, 10},
		{7, []uint32{10}, 7, 10},
		{30, []uint32{math.MaxUint32}, 30, 0},
		{30, nil, 30, 0},
		{30, []uint32{20, 5}, 5, 5},
	} {
		var st []http2.PeerSettings
		for _, l := range tc.limits {
			st = append(st, http2.PeerSettings{MaxConcurrentStreams: l})
		}
		if got, lim := capStreams(tc.peak, st); got != tc.want || lim != tc.lim {
			t.Errorf("capStreams(%d, %v) = %d, %d; want %d, %d", tc.peak, tc.limits, got, lim, tc.want, tc.lim)
		}
	}
}
