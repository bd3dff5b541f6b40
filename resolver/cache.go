package resolver

import (
	"net/netip"
	"time"
)

// key identifies a lookup. Two strings make a comparable struct, so a map
// probe with it does not allocate.
type key struct {
	network string
	host    string
}

// entry is one cached answer: addresses, or the "not found" error to
// repeat.
type entry struct {
	key     key
	addrs   []netip.Addr
	err     *Error
	expires time.Time

	prev, next *entry
	list       *entryList
}

// entryList is a doubly linked list in insertion order. All entries of a
// list share one TTL, so insertion order is also expiry order: the head is
// both the oldest and the first to expire. That makes pruning and eviction
// O(1) without a heap.
type entryList struct {
	head, tail *entry
	ttl        time.Duration
}

func (l *entryList) pushBack(e *entry) {
	e.list = l
	e.prev = l.tail
	e.next = nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
}

func (l *entryList) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next, e.list = nil, nil, nil
}

// cache holds answers for a bounded number of keys. Positive and negative
// answers live in separate lists because their TTLs differ. It is guarded
// by Resolver.mu.
type cache struct {
	m   map[key]*entry
	max int
	pos entryList // addresses, ttl = Config.TTL
	neg entryList // not found, ttl = Config.NegativeTTL
}

func newCache(max int, ttl, negTTL time.Duration) cache {
	return cache{
		m:   make(map[key]*entry),
		max: max,
		pos: entryList{ttl: ttl},
		neg: entryList{ttl: negTTL},
	}
}

// get returns the live entry for k, or nil. An expired entry is a miss;
// it stays until the refreshing lookup replaces it or pruning drops it.
func (c *cache) get(k key, now time.Time) *entry {
	e := c.m[k]
	if e == nil || !now.Before(e.expires) {
		return nil
	}
	return e
}

// put stores an answer: addrs when err is nil, otherwise a not-found err.
// A list whose TTL is negative does not cache at all.
func (c *cache) put(k key, addrs []netip.Addr, err *Error, now time.Time) {
	l := &c.pos
	if err != nil {
		l = &c.neg
	}
	if l.ttl < 0 || c.max <= 0 {
		return
	}
	if old := c.m[k]; old != nil {
		c.drop(old)
	}
	c.pruneExpired(now)
	for len(c.m) >= c.max {
		c.evictOldest()
	}
	e := &entry{key: k, addrs: addrs, err: err, expires: now.Add(l.ttl)}
	l.pushBack(e)
	c.m[k] = e
}

func (c *cache) drop(e *entry) {
	e.list.remove(e)
	delete(c.m, e.key)
}

// pruneExpired drops expired entries from the heads of both lists. Each
// entry is dropped once, so the cost is constant when amortised over puts.
func (c *cache) pruneExpired(now time.Time) {
	for _, l := range [...]*entryList{&c.pos, &c.neg} {
		for l.head != nil && !now.Before(l.head.expires) {
			c.drop(l.head)
		}
	}
}

// evictOldest drops the older of the two heads; called only when nothing
// has expired, so this is the oldest live entry.
func (c *cache) evictOldest() {
	p, n := c.pos.head, c.neg.head
	switch {
	case p == nil:
		c.drop(n)
	case n == nil:
		c.drop(p)
	case n.expires.Add(-c.neg.ttl).Before(p.expires.Add(-c.pos.ttl)):
		c.drop(n)
	default:
		c.drop(p)
	}
}

// error returns the cached "not found" error as an error interface, nil
// for an answer (never a typed nil pointer).
func (e *entry) error() error {
	if e.err != nil {
		return e.err
	}
	return nil
}

func (c *cache) len() int { return len(c.m) }

func (c *cache) clear() {
	clear(c.m)
	c.pos.head, c.pos.tail = nil, nil
	c.neg.head, c.neg.tail = nil, nil
}
