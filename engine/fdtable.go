package engine

import (
	"sync"
	"sync/atomic"
)

// fdTable maps socket descriptors to connections for all of an engine's
// loops. Descriptor numbers are shared by the whole process, so a table
// per loop would be as long as the highest descriptor in every loop: with
// N loops, 8×N bytes for each open connection. One table costs 8.
//
// It is paged, so that it grows without moving what the loops are reading:
// a page, once published, stays for the table's life. Each entry is
// written by the loop that owns the descriptor, but a number closed on one
// loop may be reused at once on another, hence the atomics. Lookups check
// the connection's loop, since a loop may still hold an event for a
// number that another loop has taken since.
type fdTable struct {
	pages atomic.Pointer[[]*fdPage]
	mu    sync.Mutex // serializes growth
}

const fdPageBits = 10

type fdPage [1 << fdPageBits]atomic.Pointer[Conn]

// get returns the connection registered for fd, or nil.
func (t *fdTable) get(fd int) *Conn {
	pages := t.pages.Load()
	if pages == nil || fd < 0 {
		return nil
	}
	i := fd >> fdPageBits
	if i >= len(*pages) {
		return nil
	}
	return (*pages)[i][fd&(1<<fdPageBits-1)].Load()
}

// slot returns fd's entry, adding pages up to it if needed.
func (t *fdTable) slot(fd int) *atomic.Pointer[Conn] {
	i := fd >> fdPageBits
	pages := t.pages.Load()
	if pages == nil || i >= len(*pages) {
		t.mu.Lock()
		pages = t.pages.Load()
		if pages == nil || i >= len(*pages) {
			var grown []*fdPage
			if pages != nil {
				grown = append(grown, *pages...)
			}
			for len(grown) <= i {
				grown = append(grown, new(fdPage))
			}
			pages = &grown
			t.pages.Store(pages)
		}
		t.mu.Unlock()
	}
	return &(*pages)[i][fd&(1<<fdPageBits-1)]
}

// set registers c for fd.
func (t *fdTable) set(fd int, c *Conn) { t.slot(fd).Store(c) }

// clear removes c's registration for fd, unless another connection has
// taken the number since.
func (t *fdTable) clear(fd int, c *Conn) {
	if fd >= 0 {
		t.slot(fd).CompareAndSwap(c, nil)
	}
}

// each calls f with every registered connection of loop l.
func (t *fdTable) each(l *Loop, f func(c *Conn)) {
	pages := t.pages.Load()
	if pages == nil {
		return
	}
	for _, p := range *pages {
		for i := range p {
			if c := p[i].Load(); c != nil && c.loop == l {
				f(c)
			}
		}
	}
}
