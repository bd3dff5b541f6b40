package redis

import (
	"strconv"
	"strings"
	"time"

	"github.com/egress-go/egress/resp"
)

// The read-timeout watchdog (Options.ReadTimeout). A server can go silent
// without closing its connections: a stopped process, a paused VM, a
// network path that drops packets without a reset. The socket stays open,
// and a command waits for a reply that never comes. A shared connection is
// worse off than a private one: every later command queues behind the
// first and waits too.
//
// Each connection has one engine timer on its own loop, re-armed each
// quarter of ReadTimeout while it has work, never one per command. What
// it checks is progress, counted without a clock on the hot path: OnData
// increments k.reads, and each tick compares it with the count at the
// previous tick. Quiet ticks adding up to ReadTimeout in a row with a
// reply due (plus the timeout of a WAIT or blocking command in flight,
// k.hold) close the connection with ErrReadTimeout; the usual OnClose
// path fails the commands in flight and, for a shared pipe, redials. Progress rather than the age of the
// oldest command, because a deep pipeline that the server is working
// through steadily is healthy however long its tail waits.
//
// A PubSub has replies due only now and then, so its connection keeps the
// timer while it lives and sends a PING after ReadTimeout with nothing
// received; the PING's reply (or anything else) is then due within
// ReadTimeout. A PubSub whose reader fell behind has its reads paused:
// silence is then its own doing, and not counted.

// watchTicks is how many ticks make one ReadTimeout.
const watchTicks = 4

// pingCmd is the health check of an idle PubSub connection, allowed in
// subscribed mode in RESP2 and RESP3 alike.
var pingCmd = []string{"PING"}

// discardReplier is the replier of the health check's PING: any reply, or the
// loss of the connection, is all it needed.
type discardReplier struct{}

func (discardReplier) reply(*resp.Value, error) {}

// watched reports whether k's silence is policed. Loop only.
func (k *link) watched() bool { return k.p.cl.opts.ReadTimeout > 0 }

func (k *link) tickLen() time.Duration {
	return max(k.p.cl.opts.ReadTimeout/watchTicks, time.Millisecond)
}

// arm starts the watchdog if it is not running: called by flush when
// commands went into flight. Loop only.
func (k *link) arm() {
	if k.armed || k.down {
		return
	}
	k.armed = true
	k.seen, k.quiet = k.reads, 0
	if k.timer == nil {
		k.timer = k.ec.Loop().AfterFunc(k.tickLen(), k.watchFn)
	} else {
		k.timer.Reset(k.tickLen())
	}
}

// disarm stops the watchdog for good: the connection is closed. Loop only.
func (k *link) disarm() {
	k.down = true
	k.armed = false
	if k.timer != nil {
		k.timer.Stop()
	}
}

// watch is the timer's function, on k's loop.
func (k *link) watch() {
	if !k.armed {
		return
	}
	if k.detached.Load() {
		// A dedicated connection given back to the pool: not ours now.
		k.armed = false
		return
	}
	if k.reads != k.seen || k.readsPaused() {
		k.seen, k.quiet = k.reads, 0
	} else {
		k.quiet++
	}
	tick := k.tickLen()
	switch {
	case k.inflight.n > 0:
		// Silent for ReadTimeout beyond what a command in flight may
		// rightly take (compared so that a hold of holdForever cannot
		// overflow).
		if silent, rt := time.Duration(k.quiet)*tick, k.p.cl.opts.ReadTimeout; silent >= rt && silent-rt >= k.hold {
			k.armed = false
			k.ec.CloseWithError(ErrReadTimeout)
			return
		}
	case k.sub == nil:
		// Nothing due: sleep until the next flush.
		k.armed = false
		return
	case k.quiet >= watchTicks:
		// An idle subscription: ask for a sign of life, due within one
		// more ReadTimeout. If the pipe is closing, its OnClose follows.
		k.quiet = 0
		_ = k.p.send(discardReplier{}, pingCmd)
	}
	k.timer.Reset(tick)
}

// readsPaused reports whether k is a PubSub connection whose reads are
// paused for a slow reader (see deliver).
func (k *link) readsPaused() bool {
	ps := k.sub
	if ps == nil {
		return false
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.paused != nil && ps.paused == k.ec
}

// holdForever is the hold of a command that may block for ever (BLPOP
// with a timeout of 0, WAIT 0 on a Conn): no read timeout while it is in
// flight.
const holdForever = time.Duration(1 << 62)

// holdFor returns how long a command of kind (kindWait or kindBlocking)
// may rightly keep its connection silent: its own timeout, or holdForever
// when that is 0 (block for ever) or cannot be read.
func holdFor(kind cmdKind, args []string) time.Duration {
	var d time.Duration
	if kind == kindWait {
		d = waitHold(args)
	} else {
		d = blockHold(args)
	}
	if d <= 0 {
		return holdForever
	}
	return d
}

// blockHold returns the timeout of a blocking command: seconds (a float)
// last for BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN, BZPOPMAX, first
// for BLMPOP and BZMPOP; milliseconds after BLOCK for XREAD and
// XREADGROUP. 0 when there is none, or it is 0 or not a number.
func blockHold(args []string) time.Duration {
	name := args[0]
	if strings.EqualFold(name, "XREAD") || strings.EqualFold(name, "XREADGROUP") {
		for i := 1; i+1 < len(args); i++ {
			if strings.EqualFold(args[i], "BLOCK") {
				n, err := strconv.ParseInt(args[i+1], 10, 64)
				if err != nil || n <= 0 {
					return 0
				}
				return time.Duration(min(n, int64(holdForever/time.Millisecond))) * time.Millisecond
			}
		}
		return 0
	}
	if len(args) < 2 {
		return 0
	}
	a := args[len(args)-1]
	if strings.EqualFold(name, "BLMPOP") || strings.EqualFold(name, "BZMPOP") {
		a = args[1]
	}
	f, err := strconv.ParseFloat(a, 64)
	if err != nil || !(f > 0) {
		return 0
	}
	return time.Duration(min(f, float64(holdForever/time.Second)) * float64(time.Second))
}

// waitHold returns the timeout of a WAIT or WAITAOF (milliseconds in its
// arguments), by which it extends the read timeout of its connection.
func waitHold(args []string) time.Duration {
	i := 2 // WAIT numreplicas timeout
	if len(args[0]) == 7 {
		i = 3 // WAITAOF numlocal numreplicas timeout
	}
	if len(args) <= i {
		return 0
	}
	n, err := strconv.ParseInt(args[i], 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, int64(time.Duration(1<<62)/time.Millisecond))) * time.Millisecond
}
