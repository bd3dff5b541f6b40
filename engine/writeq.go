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
// chunks that return to the pool once sent: an idle connection holds none.
type writeQueue struct {
	chunks []chunk // backed by a pooled chunkArray while non-empty
	off    int     // bytes of chunks[0] already sent
	n      int     // bytes queued and unsent
}

// chunkArray backs a queue's chunk list; it goes back to chunkArrays when
// the queue drains, so that neither an idle connection nor a busy one in
// steady state pays for it.
type chunkArray [4]chunk

var chunkArrays = sync.Pool{New: func() any { return new(chunkArray) }}

func (q *writeQueue) push(b []byte, oob bool) {
	q.n += len(b)
	if k := len(q.chunks); k > 0 && !oob && !q.chunks[k-1].oob {
		last := &q.chunks[k-1]
		m := copy(last.b[len(last.b):cap(last.b)], b)
		last.b = last.b[:len(last.b)+m]
		b = b[m:]
	}
	if len(b) == 0 {
		return
	}
	if q.chunks == nil {
		q.chunks = chunkArrays.Get().(*chunkArray)[:0]
	}
	size := len(b)
	if !oob {
		size = max(size, chunkSize)
	}
	buf := append(bufpool.Get(size), b...)
	q.chunks = append(q.chunks, chunk{b: buf, oob: oob})
}

// consume drops n sent bytes from the front.
func (q *writeQueue) consume(n int) {
	q.n -= n
	for n > 0 {
		head := &q.chunks[0]
		rest := len(head.b) - q.off
		if n < rest {
			q.off += n
			return
		}
		n -= rest
		q.popHead()
	}
	if len(q.chunks) > 0 && q.off == len(q.chunks[0].b) {
		q.popHead()
	}
}

func (q *writeQueue) popHead() {
	bufpool.Put(q.chunks[0].b)
	q.off = 0
	copy(q.chunks, q.chunks[1:])
	q.chunks[len(q.chunks)-1] = chunk{}
	q.chunks = q.chunks[:len(q.chunks)-1]
	if len(q.chunks) == 0 {
		q.dropArray()
	}
}

// release drops everything queued.
func (q *writeQueue) release() {
	for i := range q.chunks {
		bufpool.Put(q.chunks[i].b)
		q.chunks[i] = chunk{}
	}
	q.dropArray()
	q.off, q.n = 0, 0
}

// dropArray gives the chunk list's backing array back to the pool, unless
// appends outgrew it.
func (q *writeQueue) dropArray() {
	if cap(q.chunks) == len(chunkArray{}) {
		q.chunks = q.chunks[:len(chunkArray{})]
		clear(q.chunks)
		chunkArrays.Put((*chunkArray)(q.chunks))
	}
	q.chunks = nil
}

// take hands every queued chunk to the caller, who now owns the buffers,
// and empties the queue. pending returns their unsent bytes.
func (q *writeQueue) take() (pending, owned [][]byte) {
	for i := range q.chunks {
		pending = append(pending, q.pending(i))
		owned = append(owned, q.chunks[i].b)
	}
	q.dropArray()
	q.off, q.n = 0, 0
	return pending, owned
}

// pending returns the unsent bytes of chunk i.
func (q *writeQueue) pending(i int) []byte {
	if i == 0 {
		return q.chunks[0].b[q.off:]
	}
	return q.chunks[i].b
}
