package engine

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"time"
)

// dialState is a connection's dial in progress. It is dropped once the
// connection is open, so an established connection does not carry it.
//
// Its size matters: it lives only while dialing, and if it shared a
// size class with Conn, which lives on, every burst of dials would leave
// the Conns' spans half empty (see TestDialStateSizeClass).
type dialState struct {
	ctx       context.Context
	network   string
	address   string
	host      string
	port      uint16
	family    int8 // 0 any, 4 or 6
	noDelay   bool
	keepAlive time.Duration
	timeout   time.Duration
	trace     *DialTrace

	// lookup hands the resolver's answer to the loop; see Loop.startDial.
	lookup   atomic.Int32
	idx      int32 // index in the loop's dialing list; -1 when not in it
	next     int32 // index of the next address to try
	tried    int32
	addrs    []netip.Addr
	lookErr  error
	cur      addrPort
	lastErr  error
	timer    *Timer
	stopCtx  func() bool
	cancelIO context.CancelFunc // BackendNet: aborts the connect goroutine
}

// finish releases what the dial holds. Loop only.
func (d *dialState) finish() {
	if d.timer != nil {
		d.timer.Stop()
	}
	if d.stopCtx != nil {
		d.stopCtx()
	}
	if d.cancelIO != nil {
		d.cancelIO()
	}
}

// Lookup hand-off states.
const (
	lookupCalling  = 0 // LookupAsync has not returned
	lookupAnswered = 1 // the callback ran before LookupAsync returned
	lookupReturned = 2 // LookupAsync returned first; the callback posts
)

// startDial begins c's dial on its loop.
func (l *Loop) startDial(c *Conn) {
	d := c.dial
	c.state = stateDialing
	d.idx = int32(len(l.dialing))
	l.dialing = append(l.dialing, c)
	l.ctr.dialing.Add(1)
	if l.isStopping() {
		c.dialFail(ErrEngineClosed)
		return
	}
	if err := d.ctx.Err(); err != nil {
		c.dialFail(err)
		return
	}
	if d.timeout > 0 {
		d.timer = l.AfterFunc(d.timeout, func() { c.dialFail(ErrConnectTimeout) })
	}
	if d.ctx.Done() != nil {
		ctx := d.ctx
		d.stopCtx = context.AfterFunc(ctx, func() {
			l.post(func() { c.dialFail(ctx.Err()) })
		})
	}
	if ip, err := netip.ParseAddr(d.host); err == nil {
		d.addrs = []netip.Addr{ip}
		c.resolved()
		return
	}
	if d.trace != nil && d.trace.DNSStart != nil {
		d.trace.DNSStart(d.host)
	}
	network := "ip"
	switch d.family {
	case 4:
		network = "ip4"
	case 6:
		network = "ip6"
	}
	// The callback may run before LookupAsync returns, on this goroutine or
	// on a resolver worker. Whoever loses the race below hands the answer
	// to the loop, so resolved always runs on the loop.
	l.e.resolver.LookupAsync(withoutValues{d.ctx}, network, d.host, func(addrs []netip.Addr, err error) {
		d.addrs, d.lookErr = addrs, err
		if d.trace != nil && d.trace.DNSDone != nil {
			d.trace.DNSDone(addrs, err)
		}
		if !d.lookup.CompareAndSwap(lookupCalling, lookupAnswered) {
			l.post(c.resolved)
		}
	})
	if !d.lookup.CompareAndSwap(lookupCalling, lookupReturned) {
		c.resolved()
	}
}

// removeDialing takes c off the loop's dialing list. The list is a slice
// with each connection's index in it, rather than a map, because a map
// never gives back the memory that a burst of dials made it grow to.
func (l *Loop) removeDialing(c *Conn) {
	i, last := int(c.dial.idx), len(l.dialing)-1
	if i < 0 {
		return
	}
	l.dialing[i] = l.dialing[last]
	l.dialing[i].dial.idx = int32(i)
	l.dialing[last] = nil
	l.dialing = l.dialing[:last]
	c.dial.idx = -1
	if cap(l.dialing) > 64 && len(l.dialing) < cap(l.dialing)/4 {
		l.dialing = append([]*Conn(nil), l.dialing...)
	}
}

// withoutValues passes a dial's deadline and cancellation to the resolver
// but not its values: net's resolver would otherwise fire the httptrace
// DNS hooks a second time (the dial reports DNS itself, cache hits too).
type withoutValues struct{ context.Context }

func (withoutValues) Value(any) any { return nil }

func (l *Loop) isStopping() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopping
}

// resolved continues a dial with the resolver's answer. Loop only.
func (c *Conn) resolved() {
	if c.state != stateDialing {
		return // timed out or cancelled meanwhile
	}
	d := c.dial
	if d.lookErr != nil {
		c.dialFail(d.lookErr)
		return
	}
	// Keep the addresses of the wanted family; the resolver's slice is
	// shared, so filter into a new one only when something is dropped.
	addrs := d.addrs
	if d.family != 0 {
		var keep []netip.Addr
		for _, a := range addrs {
			if (d.family == 4) == a.Unmap().Is4() {
				keep = append(keep, a)
			}
		}
		addrs = keep
	}
	d.addrs = addrs
	if len(addrs) == 0 {
		c.dialFail(ErrNoAddress)
		return
	}
	c.tryNext()
}

// tryNext connects to the next address, or fails the dial when none is
// left. Loop only.
func (c *Conn) tryNext() {
	d := c.dial
	for int(d.next) < len(d.addrs) {
		a := d.addrs[d.next]
		d.next++
		d.tried++
		c.mu.Lock() // RemoteAddr reads it from any goroutine
		d.cur = netip.AddrPortFrom(a.Unmap(), d.port)
		c.mu.Unlock()
		if d.trace != nil && d.trace.ConnectStart != nil {
			d.trace.ConnectStart("tcp", d.cur.String())
		}
		err := c.loop.be.startConnect(c, d.cur)
		if err == nil {
			return // in progress, or already connected
		}
		d.traceConnectDone(err)
		d.lastErr = err
	}
	err := d.lastErr
	if err == nil {
		err = ErrNoAddress
	}
	c.dialFail(err)
}

// connectFailed is called by a backend when an attempt failed after
// starting; the next address is tried. Loop only.
func (c *Conn) connectFailed(err error) {
	if c.state != stateDialing {
		return
	}
	c.dial.lastErr = err
	c.dial.traceConnectDone(err)
	c.loop.be.closeSocket(c)
	c.tryNext()
}

// connected is called by a backend when the attempt succeeded. Loop only.
func (c *Conn) connected() {
	l := c.loop
	d := c.dial
	d.traceConnectDone(nil)
	d.finish()
	l.removeDialing(c)
	c.mu.Lock() // RemoteAddr reads both from any goroutine
	c.remote = makePeerAddr(d.cur)
	c.dial = nil
	c.mu.Unlock()
	l.ctr.dialing.Add(-1)
	l.ctr.dialed.Add(1)
	c.open()
}

func (d *dialState) traceConnectDone(err error) {
	if d.trace != nil && d.trace.ConnectDone != nil {
		d.trace.ConnectDone("tcp", d.cur.String(), err)
	}
}

// dialFail ends a dial with err. Loop only.
func (c *Conn) dialFail(err error) {
	if c.state != stateDialing {
		return
	}
	d := c.dial
	ctr := &c.loop.ctr
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, ErrConnectRefused):
		ctr.failRefused.Add(1)
	case errors.Is(err, context.Canceled):
		ctr.failCanceled.Add(1)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &te) && te.Timeout():
		ctr.failTimeout.Add(1)
	case err == d.lookErr, errors.Is(err, ErrNoAddress):
		ctr.failDNS.Add(1)
	default:
		ctr.failOther.Add(1)
	}
	c.closeWith(&DialError{Network: d.network, Address: d.address, Addr: d.cur, Tried: int(d.tried), Err: err})
}
