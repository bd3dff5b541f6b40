package engine

import (
	"errors"
	"syscall"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

var backends = []Backend{BackendPoll, BackendNet}

// forEachBackend runs f as a subtest per backend, with a leak check.
func forEachBackend(t *testing.T, f func(t *testing.T, be Backend)) {
	t.Helper()
	for _, be := range backends {
		t.Run(be.String(), func(t *testing.T) {
			if be == BackendPoll && !pollSupported {
				t.Skip("no poll backend on this platform")
			}
			testkit.CheckLeaks(t) // first, so that it runs after every other cleanup
			f(t, be)
		})
	}
}

func newEngine(t *testing.T, be Backend, cfg Config) *Engine {
	t.Helper()
	cfg.Backend = be
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func raiseFileLimit(t *testing.T) uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	rl.Cur = rl.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	return rl.Cur
}

func mustIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v (%T) is not %v", err, err, target)
	}
}
