package pool

import (
	"context"
	"errors"
	"fmt"
	"time"
)

var (
	// ErrPoolClosed is returned by requests made after Close and given to
	// requests still waiting when Close is called.
	ErrPoolClosed = errors.New("pool: closed")

	// ErrPoolWaitTimeout matches (errors.Is) a *WaitError whose wait ended
	// because the request's context deadline passed.
	ErrPoolWaitTimeout = errors.New("pool: timed out waiting for a connection")

	// ErrNotInUse is returned by Release for a connection that is not
	// checked out: released twice, or never handed out.
	ErrNotInUse = errors.New("pool: release of a connection that is not in use")

	// ErrNeedDialer is returned by the default dialer for a key with TLS
	// or a Proxy set: plain TCP would silently drop them, so a Config.Dial
	// that knows how is required.
	ErrNeedDialer = errors.New("pool: key needs TLS or a proxy; set Config.Dial")
)

// WaitError reports a request that waited in a key's queue (MaxTotalPerKey
// connections were in use) until its context ended. errors.Is matches
// ErrPoolWaitTimeout when the deadline passed, and the context's error
// (context.DeadlineExceeded or context.Canceled) in all cases.
type WaitError struct {
	Key    Key
	Waited time.Duration // how long the request was queued
	Limit  int           // MaxTotalPerKey
	Err    error         // the context's error
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("pool: no connection to %v after waiting %v (all %d in use): %v",
		e.Key, e.Waited.Round(time.Microsecond), e.Limit, e.Err)
}

// Unwrap returns the context's error.
func (e *WaitError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrPoolWaitTimeout) hold for a deadline.
func (e *WaitError) Is(target error) bool {
	return target == ErrPoolWaitTimeout && errors.Is(e.Err, context.DeadlineExceeded)
}

// Timeout reports whether the wait ended because a deadline passed, so that
// a *WaitError satisfies net.Error's Timeout.
func (e *WaitError) Timeout() bool { return errors.Is(e.Err, context.DeadlineExceeded) }
