package http2

import (
	"net/http"
	"testing"
)

func skipAllocTest(t *testing.T) {
	t.Helper()
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need -short off and no race detector")
	}
}

// quietStream is a StreamHandler that consumes bodies and allocates
// nothing, as the engine's exchange will.
type quietStream struct {
	c      *Conn
	bytes  int
	closed int
	err    error
}

func (q *quietStream) Head(s *Stream, h *ResponseHead)     {}
func (q *quietStream) Data(s *Stream, p []byte)            { q.bytes += len(p); q.c.Consumed(s, len(p)) }
func (q *quietStream) Trailers(s *Stream, h *ResponseHead) {}
func (q *quietStream) Closed(s *Stream, err error) {
	q.closed++
	if err != nil {
		q.err = err
	}
}
func (q *quietStream) WindowOpen(s *Stream) {}

// batch is the number of requests per measured run: a test that fails on
// one allocation per run fails on a hundredth of an allocation per
// request.
const batch = 100

// TestAllocsSteadyState runs batches of requests on one connection, as a
// kept-alive client does, and requires no allocation at all: the request
// head is encoded from the HPACK table, the response head decoded from
// it, the Stream comes from a pool, and the frames go to a pooled buffer.
func TestAllocsSteadyState(t *testing.T) {
	skipAllocTest(t)
	c := new(Conn)
	c.Init(Config{}, nil)
	c.Flushed()
	q := &quietStream{c: c}
	srv := newServerEncoder()
	req := &Request{Method: "GET", Scheme: "https", Authority: "api.example.com", Path: "/v1/items/42",
		Fields: []HeaderField{{"user-agent", "egress"}, {"Accept", "application/json"}},
		Header: http.Header{"Authorization": {"Bearer 0123456789"}, "X-Request-Id": {"7d1f7c3e"}}}
	if err := c.Feed(cat(settings(Setting{SettingMaxConcurrentStreams, 1000}), AppendSettingsAck(nil))); err != nil {
		t.Fatal(err)
	}
	head := func() []byte {
		return srv.block(":status: 200", "content-type: application/json", "server: nginx", "content-length: 27")
	}
	// The first block adds the fields to both tables; later ones are all
	// indexes.
	first := true
	blk0, blk := head(), head()
	body := []byte(`{"id":42,"name":"egress"}` + "\n\n")
	in := make([]byte, 0, 4096)
	roundTrip := func() {
		s, err := c.OpenStream(q, req, true)
		if err != nil {
			t.Fatal(err)
		}
		b := blk
		if first {
			b, first = blk0, false
		}
		in = AppendHeaders(in[:0], s.ID(), false, b, 16384)
		in = AppendData(in, s.ID(), true, body)
		if err := c.Feed(in); err != nil {
			t.Fatal(err)
		}
		c.Flushed()
	}
	for range 3 * batch {
		roundTrip()
	}
	allocs := testing.AllocsPerRun(20, func() {
		for range batch {
			roundTrip()
		}
	})
	if q.err != nil || q.closed < 23*batch || q.bytes != q.closed*len(body) {
		t.Fatalf("exchanges failed: %v, %d closed", q.err, q.closed)
	}
	t.Logf("%v allocations per %d requests", allocs, batch)
	if allocs != 0 {
		t.Errorf("%v allocations per %d requests, want 0", allocs, batch)
	}
}

// TestAllocsUpload streams a request body and its WINDOW_UPDATEs.
func TestAllocsUpload(t *testing.T) {
	skipAllocTest(t)
	c := new(Conn)
	c.Init(Config{}, nil)
	c.Flushed()
	q := &quietStream{c: c}
	if err := c.Feed(cat(settings(Setting{SettingInitialWindowSize, 1 << 20}), AppendWindowUpdate(nil, 0, 1<<30))); err != nil {
		t.Fatal(err)
	}
	req := &Request{Method: "PUT", Scheme: "https", Authority: "a", Path: "/blob", ContentLength: -1}
	s, err := c.OpenStream(q, req, false)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 16384)
	wu := cat(AppendWindowUpdate(nil, 0, 16384), AppendWindowUpdate(nil, s.ID(), 16384))
	allocs := testing.AllocsPerRun(20, func() {
		for range batch {
			if n, _ := c.WriteData(s, chunk, false); n != len(chunk) {
				t.Fatal("blocked")
			}
			if err := c.Feed(wu); err != nil {
				t.Fatal(err)
			}
			c.Flushed()
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per %d DATA frames, want 0", allocs, batch)
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	c := new(Conn)
	c.Init(Config{}, nil)
	c.Flushed()
	q := &quietStream{c: c}
	srv := newServerEncoder()
	req := &Request{Method: "GET", Scheme: "https", Authority: "api.example.com", Path: "/v1/items/42"}
	c.Feed(settings(Setting{SettingMaxConcurrentStreams, 1000}))
	blk0 := srv.block(":status: 200", "content-length: 2")
	blk := srv.block(":status: 200", "content-length: 2")
	in := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		s, _ := c.OpenStream(q, req, true)
		in = AppendHeaders(in[:0], s.ID(), false, blk0, 16384)
		blk0 = blk
		in = AppendData(in, s.ID(), true, []byte("ok"))
		c.Feed(in)
		c.Flushed()
	}
}
