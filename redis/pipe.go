package redis

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/resp"
)

// replier receives the reply to one command. reply is called exactly once:
// on the loop of the connection the command went out on, with the decoded
// value (valid only during the call; err is its *resp.Error when it is an
// error reply), or with v nil and the error that ended the command.
//
// A command that takes several replies (a pipeline, a transaction) is
// queued as one replier per reply, the same value each time.
type replier interface {
	reply(v *resp.Value, err error)
}

type pipeState uint8

const (
	pDialing pipeState = iota // a connection is being opened; commands queue
	pUp                       // cur is open; commands queue and a flush is posted
	pBackoff                  // the last dial failed; commands fail at once
	pClosed                   // no more commands
)

// pipe is where commands wait to be written: a byte buffer of encoded
// commands and, in the same order, the repliers that expect their replies.
// Callers on any goroutine append to it under mu; the loop of the current
// connection takes the whole buffer at once and writes it with one
// Conn.Write. That is auto-pipelining: every command queued between two
// flushes goes out in one write, whichever goroutine sent it.
//
// A shared pipe outlives its connections: when one drops, the pipe dials
// another, and the commands that were still in the buffer (never handed to
// a socket) go out on it. A dedicated pipe (Conn, PubSub, blocking
// commands) has one connection and closes with it.
type pipe struct {
	cl      *Client
	shared  bool
	home    *engine.Loop // runs the back-off timer
	retryFn func()       // p.retry, bound once

	mu       sync.Mutex
	state    pipeState
	cur      *link  // the open connection, in pUp
	buf      []byte // encoded commands not yet taken by cur
	queue    []replier
	hold     time.Duration // longest wait rightly expected of a command in buf (see link.hold)
	posted   bool          // cur.flush is queued on cur's loop
	lastErr  *ConnError    // why the last dial failed, in pBackoff; why a dedicated pipe's connection was lost, in pClosed
	attempts int           // dials failed in a row
	timer    *engine.Timer
	up       atomic.Bool // state == pUp, for pick without the lock
}

func newPipe(cl *Client, shared bool, home *engine.Loop) *pipe {
	p := &pipe{cl: cl, shared: shared, home: home}
	p.retryFn = p.retry
	return p
}

// admitLocked says whether a command may be queued now.
func (p *pipe) admitLocked() error {
	switch p.state {
	case pClosed:
		if p.lastErr != nil {
			return p.lastErr // a Conn whose connection was lost
		}
		return ErrClosed
	case pBackoff:
		return p.lastErr
	}
	if len(p.buf) >= p.cl.opts.WriteBufferLimit {
		return ErrBufferFull
	}
	return nil
}

// send queues one command for r. The command is encoded here, on the
// caller's goroutine, straight into the shared buffer.
func (p *pipe) send(r replier, args []string) error {
	p.mu.Lock()
	if err := p.admitLocked(); err != nil {
		p.mu.Unlock()
		return err
	}
	p.buf = resp.AppendCommand(p.buf, args...)
	p.queue = append(p.queue, r)
	p.kickLocked()
	p.mu.Unlock()
	return nil
}

// sendHeld is send for a command that may rightly keep its connection
// silent for up to hold (WAIT, BLPOP, ...): the read timeout of the
// connection that carries it is extended by that much while it is in
// flight.
func (p *pipe) sendHeld(r replier, args []string, hold time.Duration) error {
	p.mu.Lock()
	if err := p.admitLocked(); err != nil {
		p.mu.Unlock()
		return err
	}
	p.buf = resp.AppendCommand(p.buf, args...)
	p.queue = append(p.queue, r)
	p.hold = max(p.hold, hold)
	p.kickLocked()
	p.mu.Unlock()
	return nil
}

// sendBatch queues n commands already encoded in b, all answered to r, so
// that nothing from another caller comes between them (pipelines and
// MULTI/EXEC).
func (p *pipe) sendBatch(r replier, n int, b []byte) error {
	return p.sendBatchHold(r, n, b, 0)
}

// sendBatchHold is sendBatch for a pipeline holding a WAIT or a blocking
// command (see sendHeld).
func (p *pipe) sendBatchHold(r replier, n int, b []byte, hold time.Duration) error {
	p.mu.Lock()
	if err := p.admitLocked(); err != nil {
		p.mu.Unlock()
		return err
	}
	p.hold = max(p.hold, hold)
	p.buf = append(p.buf, b...)
	for i := 0; i < n; i++ {
		p.queue = append(p.queue, r)
	}
	p.kickLocked()
	p.mu.Unlock()
	return nil
}

// sendEach queues the commands encoded in b, answered in order to rs (one
// replier per reply), with nothing from another caller between them: a
// cluster pipeline's commands for one node.
func (p *pipe) sendEach(rs []replier, b []byte) error {
	p.mu.Lock()
	if err := p.admitLocked(); err != nil {
		p.mu.Unlock()
		return err
	}
	p.buf = append(p.buf, b...)
	p.queue = append(p.queue, rs...)
	p.kickLocked()
	p.mu.Unlock()
	return nil
}

// kickLocked makes sure the current connection will flush. Posting under
// p.mu is safe: the loop never holds its own lock while it runs a task.
func (p *pipe) kickLocked() {
	if p.state == pUp && !p.posted {
		p.posted = true
		k := p.cur
		k.ec.Loop().Post(k.flushFn)
	}
}

// takeQueueLocked empties the pipe and returns the repliers it held.
func (p *pipe) takeQueueLocked() []replier {
	q := p.queue
	p.queue = nil
	p.buf = p.buf[:0]
	p.hold = 0
	return q
}

func failAll(q []replier, err error) {
	for _, r := range q {
		r.reply(nil, err)
	}
}

// dial opens a new connection for a shared pipe (p.state is pDialing).
func (p *pipe) dial() {
	k := newLink(p)
	if !p.cl.track.add() {
		p.dialFailed(ErrClosed)
		return
	}
	p.cl.pool.RequestAsync(p.cl.ctx, p.cl.key, k, k.connectedFn)
}

// attach makes k, just handed over by the pool, the pipe's connection. It
// reports false if k closed first or the pipe was closed meanwhile (then
// k is closed and accounted for).
func (p *pipe) attach(k *link) bool {
	p.mu.Lock()
	if p.state == pClosed {
		p.mu.Unlock()
		k.ec.CloseWithError(ErrClosed)
		return false
	}
	if k.closed {
		// It closed after the pool handed it over (an idle connection
		// given to a caller off its loop can) but before this: its OnClose
		// did not find it current and left the pipe alone. Made current,
		// it would take commands that nothing ever answers.
		err := k.closeErr
		p.mu.Unlock()
		p.dialFailed(err)
		return false
	}
	p.cur = k
	p.state = pUp
	p.up.Store(true)
	p.attempts = 0
	p.lastErr = nil
	if len(p.queue) > 0 {
		p.posted = true
		k.ec.Loop().Post(k.flushFn)
	}
	p.mu.Unlock()
	return true
}

// dialFailed fails the queued commands (they were never sent) and, for a
// shared pipe, arms the back-off timer; until it fires, commands fail at
// once with the same error rather than waiting for a server that is away.
func (p *pipe) dialFailed(err error) {
	cerr := &ConnError{Addr: p.cl.opts.Addr, Err: err}
	p.mu.Lock()
	q := p.takeQueueLocked()
	if p.state == pClosed || !p.shared {
		p.state = pClosed
		p.mu.Unlock()
		failAll(q, cerr)
		return
	}
	p.attempts++
	p.state = pBackoff
	p.lastErr = cerr
	d := p.cl.backoff(p.attempts)
	if p.timer == nil {
		p.timer = p.home.AfterFunc(d, p.retryFn)
	} else {
		p.timer.Reset(d)
	}
	p.mu.Unlock()
	failAll(q, cerr)
}

// retry runs on the home loop when the back-off has passed.
func (p *pipe) retry() {
	p.mu.Lock()
	if p.state != pBackoff {
		p.mu.Unlock()
		return
	}
	p.state = pDialing
	p.mu.Unlock()
	p.dial()
}

// linkClosed is called by k's OnClose (with p.mu held) when k was the
// current connection. It reports whether a shared pipe must redial; the
// queue of a dedicated pipe is returned to be failed.
func (p *pipe) linkClosedLocked(k *link) (redial bool, q []replier) {
	if p.cur != k {
		return false, nil
	}
	p.cur = nil
	p.up.Store(false)
	p.posted = false
	if p.shared && p.state != pClosed {
		// Commands still in buf were never handed to the socket: they
		// go out on the next connection.
		p.state = pDialing
		return true, nil
	}
	if !p.shared && p.state != pClosed {
		// A Conn does not reconnect: its commands fail from now on
		// with why, until its user closes it.
		p.lastErr = &ConnError{Addr: p.cl.opts.Addr, Err: k.closeErr}
	}
	p.state = pClosed
	return false, p.takeQueueLocked()
}

// close stops the pipe: queued commands fail with ErrClosed and the
// connection is closed, which fails those in flight.
func (p *pipe) close() {
	p.mu.Lock()
	p.state = pClosed
	p.lastErr = nil // commands fail with ErrClosed, not the last dial's error
	p.up.Store(false)
	k := p.cur
	q := p.takeQueueLocked()
	t := p.timer
	p.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	failAll(q, ErrClosed)
	if k != nil {
		k.ec.CloseWithError(ErrClosed)
	}
}
