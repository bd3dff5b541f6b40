package load

import (
	"fmt"
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
