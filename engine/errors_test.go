package engine

import (
	"errors"
	"syscall"
	"testing"
)

// TestSysErrorSaysItOnce: an errno whose text the sentinel already says is
// not repeated in parentheses, and both stay matchable with errors.Is.
func TestSysErrorSaysItOnce(t *testing.T) {
	for _, c := range []struct {
		err  *sysError
		want string
	}{
		{&sysError{ErrConnectRefused, syscall.ECONNREFUSED}, "egress: connection refused"},
		{&sysError{ErrReset, syscall.ECONNRESET}, "egress: connection reset by peer"},
		{&sysError{ErrReset, syscall.EPIPE}, "egress: connection reset by peer (broken pipe)"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
		if !errors.Is(c.err, c.err.kind) || !errors.Is(c.err, c.err.errno) {
			t.Errorf("%q lost its sentinel or errno", c.err)
		}
	}
}
