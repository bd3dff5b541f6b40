package engine

import (
	"sync"

	"github.com/egress-go/egress/internal/bufpool"
)

// chunkSize is the smallest buffer a write queue takes from the pool.
const chunkSize = 4 << 10

// chunk is a run of queued bytes. An urgent chunk is sent on its own with
// MSG_OOB.
type chunk struct {
	b   []byte
	oob bool
}

// writeQueue holds the bytes a connection has yet to send, in pooled
// chunks that return to the pool once sent: an idle connection holds none,
// and pays only for this header.
type writeQueue struct {
	s *queueSlots // nil while the queue is empty
	n int         // bytes queued and unsent
}

// queueSlots is the chunk list of a non-empty queue. It comes from
// slotsPool and goes back when the queue drains, so that neither an idle
// connection nor a busy one in steady state pays for it.
type queueSlots struct {
	chunks []chunk // in arr, unless appends outgrew it
	off    int     // bytes of chunks[0] already sent
	arr    [4]chunk
}

var slotsPool = sync.Pool{New: func() any { return new(queueSlots) }}

// chunks returns the queued chunks, oldest first.
func (q *writeQueue) chunks() []chunk {
	if q.s == nil {
		return nil
	}
	return q.s.chunks
}

func (q *writeQueue) push(b []byte, oob bool) {
	q.n += len(b)
	s := q.s
	if s != nil {
		if k := len(s.chunks); k > 0 && !oob && !s.chunks[k-1].oob {
			last := &s.chunks[k-1]
			m := copy(last.b[len(last.b):cap(last.b)], b)
			last.b = last.b[:len(last.b)+m]
			b = b[m:]
		}
	}
	if len(b) == 0 {
		return
	}
	if s == nil {
		s = slotsPool.Get().(*queueSlots)
		s.chunks = s.arr[:0]
		q.s = s
	}
	size := len(b)
	if !oob {
		size = max(size, chunkSize)
	}
	buf := append(bufpool.Get(size), b...)
	s.chunks = append(s.chunks, chunk{b: buf, oob: oob})
}

// consume drops n sent bytes from the front.
func (q *writeQueue) consume(n int) {
	q.n -= n
	for n > 0 {
		s := q.s
		head := &s.chunks[0]
		rest := len(head.b) - s.off
		if n < rest {
			s.off += n
			return
		}
		n -= rest
		q.popHead()
	}
	if s := q.s; s != nil && len(s.chunks) > 0 && s.off == len(s.chunks[0].b) {
		q.popHead()
	}
}

func (q *writeQueue) popHead() {
	s := q.s
	bufpool.Put(s.chunks[0].b)
	s.off = 0
	copy(s.chunks, s.chunks[1:])
	s.chunks[len(s.chunks)-1] = chunk{}
	s.chunks = s.chunks[:len(s.chunks)-1]
	if len(s.chunks) == 0 {
		q.dropSlots()
	}
}

// release drops everything queued.
func (q *writeQueue) release() {
	if s := q.s; s != nil {
		for i := range s.chunks {
			bufpool.Put(s.chunks[i].b)
			s.chunks[i] = chunk{}
		}
		q.dropSlots()
	}
	q.n = 0
}

// dropSlots gives the chunk list back to the pool.
func (q *writeQueue) dropSlots() {
	s := q.s
	clear(s.chunks)
	clear(s.arr[:])
	s.chunks, s.off = nil, 0
	slotsPool.Put(s)
	q.s = nil
}

// take hands every queued chunk to the caller, who now owns the buffers,
// and empties the queue. pending returns their unsent bytes.
func (q *writeQueue) take() (pending, owned [][]byte) {
	s := q.s
	if s == nil {
		return nil, nil
	}
	for i := range s.chunks {
		pending = append(pending, q.pending(i))
		owned = append(owned, s.chunks[i].b)
	}
	q.dropSlots()
	q.n = 0
	return pending, owned
}

// pending returns the unsent bytes of chunk i.
func (q *writeQueue) pending(i int) []byte {
	if i == 0 {
		return q.s.chunks[0].b[q.s.off:]
	}
	return q.s.chunks[i].b
}
