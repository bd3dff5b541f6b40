package pool

import (
	"expvar"
	"fmt"
	"sync"
)

// Counter indices; see Stats for their meaning.
const (
	cRequests = iota
	cDials
	cDialFailures
	cReuses
	cWaits
	cWaitTimeouts
	cExpired
	cPeerClosedIdle
	cUnsolicitedIdle
	cEvicted
	cDiscarded
	cStreams
	nCounters
)

type counters [nCounters]int64

// inc counts one event for kp and for the pool. p.mu held.
func (p *Pool) inc(kp *keyPool, c int) {
	kp.ctr[c]++
	p.total[c]++
}

// Stats are a pool's counters, for one key or summed over all keys. The
// counters only grow; the gauges at the end are the state at the time of
// the snapshot.
type Stats struct {
	Requests        int64 // Request, RequestAsync calls
	Dials           int64 // connections dialed (started)
	DialFailures    int64 // dials that failed
	Reuses          int64 // checkouts of a connection used before
	Waits           int64 // requests that queued at MaxTotalPerKey
	WaitTimeouts    int64 // queued requests whose context ended first
	Expired         int64 // closed for IdleTimeout or MaxAge
	PeerClosedIdle  int64 // closed by the peer (FIN, reset) while idle
	UnsolicitedIdle int64 // closed because bytes arrived while idle
	Evicted         int64 // idle, closed to stay under MaxIdle
	Discarded       int64 // closed on release: not reusable, closed, no idle room, pool closed
	Streams         int64 // checkouts that were a stream of a multiplexed connection (see Conn.Share)

	Open    int // connections counted against MaxTotalPerKey: all of the below and those closing
	Dialing int
	Idle    int
	InUse   int
	Waiting int // queued requests
	// Multiplexed connections (counted in InUse too) and the streams in
	// use on them.
	Multiplexed  int
	StreamsInUse int
}

func (s *Stats) add(c *counters) {
	s.Requests += c[cRequests]
	s.Dials += c[cDials]
	s.DialFailures += c[cDialFailures]
	s.Reuses += c[cReuses]
	s.Waits += c[cWaits]
	s.WaitTimeouts += c[cWaitTimeouts]
	s.Expired += c[cExpired]
	s.PeerClosedIdle += c[cPeerClosedIdle]
	s.UnsolicitedIdle += c[cUnsolicitedIdle]
	s.Evicted += c[cEvicted]
	s.Discarded += c[cDiscarded]
	s.Streams += c[cStreams]
}

func (kp *keyPool) statsLocked() Stats {
	var s Stats
	s.add(&kp.ctr)
	s.Open, s.Dialing, s.Idle, s.InUse, s.Waiting = kp.total, kp.dialing, kp.nIdle, kp.inUse, kp.nWait
	s.Multiplexed, s.StreamsInUse = kp.nShared, kp.streams
	return s
}

// Stats returns the pool's totals over all keys.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s Stats
	s.add(&p.total)
	for _, kp := range p.keys {
		s.Open += kp.total
		s.Dialing += kp.dialing
		s.Idle += kp.nIdle
		s.InUse += kp.inUse
		s.Waiting += kp.nWait
		s.Multiplexed += kp.nShared
		s.StreamsInUse += kp.streams
	}
	return s
}

// KeyStats returns the statistics of one key (zero for a key never
// requested).
func (p *Pool) KeyStats(key Key) Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if kp := p.keys[key]; kp != nil {
		return kp.statsLocked()
	}
	return Stats{}
}

// StatsByKey returns the statistics of every key the pool has seen.
func (p *Pool) StatsByKey() map[Key]Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[Key]Stats, len(p.keys))
	for k, kp := range p.keys {
		m[k] = kp.statsLocked()
	}
	return m
}

// publishMu makes Publish's check-then-publish atomic among pools;
// expvar.Publish itself panics on a duplicate name.
var publishMu sync.Mutex

// Publish exports the pool's statistics through expvar under name, as
// {"Total": Stats, "Keys": {Key.String(): Stats}}, computed at each read.
// It returns an error, instead of expvar's panic, when the name is taken.
// expvar has no way to unpublish: a name stays bound to its pool for the
// life of the process.
func (p *Pool) Publish(name string) error {
	publishMu.Lock()
	defer publishMu.Unlock()
	if expvar.Get(name) != nil {
		return fmt.Errorf("pool: expvar name %q is already published", name)
	}
	expvar.Publish(name, expvar.Func(p.expvarValue))
	return nil
}

type expvarStats struct {
	Total Stats
	Keys  map[string]Stats
}

func (p *Pool) expvarValue() any {
	v := expvarStats{Total: p.Stats(), Keys: make(map[string]Stats)}
	for k, s := range p.StatsByKey() {
		v.Keys[k.String()] = s
	}
	return v
}
