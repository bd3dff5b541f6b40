package egress

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// One keep-alive GET round trip against a local server, egress (both
// APIs) and net/http in the same run: go test -bench Get -benchmem.
//
// The server is a raw loop that answers every request head with a canned
// response and allocates nothing per request, so that the allocations
// reported are the client's alone.
func newBenchServer(tb testing.TB) *cannedServer {
	return &cannedServer{URL: "http://" + testkit.NewServer(tb, serveCanned).Addr()}
}

type cannedServer struct {
	URL string
}

var cannedResponse = []byte("HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nhello, egress")

// serveCanned answers every request head on c with cannedResponse.
func serveCanned(c net.Conn) { serveEach(c, cannedResponse) }

// serveEach answers every request head on c with resp.
func serveEach(c net.Conn, resp []byte) {
	buf := make([]byte, 8192)
	have := 0
	for {
		n, err := c.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		for {
			i := bytes.Index(buf[:have], []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
			have = copy(buf, buf[i+4:have])
		}
	}
}

// exchangeLoop runs n sequential exchanges on one reused Exchange.
func exchangeLoop(tb testing.TB, t *Transport, url string) func(n int) {
	done := make(chan error, 1)
	ex := &Exchange{URL: url, OnDone: func(_ *Exchange, err error) { done <- err }}
	return func(n int) {
		for i := 0; i < n; i++ {
			if err := t.Send(ex); err != nil {
				tb.Fatal(err)
			}
			if err := <-done; err != nil {
				tb.Fatal(err)
			}
		}
	}
}

func BenchmarkGetExchange(b *testing.B) {
	srv := newBenchServer(b)
	t := newTestTransport(&testing.T{}, Options{})
	defer t.Close()
	run := exchangeLoop(b, t, srv.URL+"/")
	run(10)
	b.ReportAllocs()
	b.ResetTimer()
	run(b.N)
}

func BenchmarkGetRoundTrip(b *testing.B) {
	srv := newBenchServer(b)
	t, _ := NewTransport(Options{})
	defer t.Close()
	benchClient(b, &http.Client{Transport: t}, srv.URL)
}

func BenchmarkGetNetHTTP(b *testing.B) {
	srv := newBenchServer(b)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	benchClient(b, &http.Client{Transport: tr}, srv.URL)
}

func benchClient(b *testing.B, c *http.Client, url string) {
	req, _ := http.NewRequest("GET", url, nil)
	get := func() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for i := 0; i < 10; i++ {
		get()
	}
	b.ReportAllocs()
	b.ResetTimer()
	sw := contextSwitches()
	for i := 0; i < b.N; i++ {
		get()
	}
	b.ReportMetric(float64(contextSwitches()-sw)/float64(b.N), "ctxsw/op")
}

// contextSwitches is how many times the process's threads have gone to
// sleep and been woken (voluntary context switches, Linux): with the
// in-process server, the wake-ups a request costs client and server
// together, comparable between clients run against the same server.
func contextSwitches() int64 {
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	var n int64
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				k, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += k
			}
		}
	}
	return n
}

// TestExchangeSteadyStateAllocs pins the non-blocking API's promise: a
// reused Exchange on a kept-alive connection allocates nothing per request.
// Requests are timed in batches, so that an allocation every hundred
// requests fails it.
func TestExchangeSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	testkit.CheckLeaks(t)
	srv := newBenchServer(t)
	tr := newTestTransport(t, Options{})
	run := exchangeLoop(t, tr, srv.URL+"/")
	run(20)
	if a := testkit.AllocsPerOp(20, testkit.AllocBatch, func() { run(1) }); a > 0 {
		t.Fatalf("%.2f allocations per request, want 0", a)
	}
}

// A 1 MiB GET, the large-body case where how a body reaches its reader
// matters most: go test -bench Get1MiB -benchmem.
func newBigBenchServer(tb testing.TB) string {
	body := bytes.Repeat([]byte("egress!!"), 1<<17)
	resp := append([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n"), body...)
	return "http://" + testkit.NewServer(tb, func(c net.Conn) { serveEach(c, resp) }).Addr()
}

func BenchmarkGet1MiBRoundTrip(b *testing.B) {
	url := newBigBenchServer(b)
	t, _ := NewTransport(Options{})
	defer t.Close()
	b.SetBytes(1 << 20)
	benchClient(b, &http.Client{Transport: t}, url)
}

func BenchmarkGet1MiBNetHTTP(b *testing.B) {
	url := newBigBenchServer(b)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	b.SetBytes(1 << 20)
	benchClient(b, &http.Client{Transport: tr}, url)
}

// cannedRT hands http.Client the same response every time, allocating
// nothing: what http.Client costs by itself.
type cannedRT struct{ resp *http.Response }

func (c cannedRT) RoundTrip(*http.Request) (*http.Response, error) { return c.resp, nil }

// TestClientRoundTripAllocs pins the drop-in path's allocations: a GET
// through http.Client over the Transport costs http.Client's own and
// four: the Response's Header (a map, which is two allocations), the
// Response itself, which also holds its body's reader and the slice
// behind the header's values, and one for the bytes of the values and of
// a body that came with the head. A RoundTripper that parses a head the
// plain way makes five for the Response and its Header alone, and one
// more for the body. The round trip's own state is recycled, which the
// bytes allocated show: they stay under 1 KiB beyond http.Client's own,
// where that state alone is 768 bytes.
func TestClientRoundTripAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	testkit.CheckLeaks(t)
	req, _ := http.NewRequest("GET", "http://canned.invalid/", nil)
	canned := &http.Client{Transport: cannedRT{&http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}}}
	cannedGet := func() {
		resp, err := canned.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	own := testkit.AllocsPerOp(20, testkit.AllocBatch, cannedGet)
	ownBytes := testkit.BytesPerOp(2000, cannedGet)

	srv := newBenchServer(t)
	tr := newTestTransport(t, Options{})
	client := &http.Client{Transport: tr}
	req, _ = http.NewRequest("GET", srv.URL, nil)
	get := func() {
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for i := 0; i < 20; i++ {
		get()
	}
	got := testkit.AllocsPerOp(20, testkit.AllocBatch, get)
	const ours = 4 // the Header's map and its table, the Response, the bytes
	t.Logf("http.Client's own %.2f, through the Transport %.2f allocations per request", own, got)
	if got > own+ours {
		t.Fatalf("%.2f allocations per request through http.Client, want at most %.0f: http.Client's own %.2f + %d for the Response and its Header",
			got, own+ours, own, ours)
	}
	gotBytes := testkit.BytesPerOp(2000, get)
	t.Logf("http.Client's own %.0f, through the Transport %.0f bytes per request", ownBytes, gotBytes)
	if gotBytes-ownBytes > 1024 {
		t.Fatalf("%.0f bytes allocated per request through http.Client, %.0f beyond its own: want at most 1024", gotBytes, gotBytes-ownBytes)
	}
}

// BenchmarkClientContract measures what the http.Client contract costs with
// no network and no transport at all: the floor under any RoundTripper's
// small GET, against which the drop-in path's CPU per request is judged
// (bench/RESULTS.md). Run it on one pinned core, as the harness runs the
// clients:
//
//	taskset -c 1 go test -run '^$' -bench ClientContract -cpu 1
//
// Each op is one http.Client.Do, a read of the (empty) body and its Close,
// by one of 64 or 256 goroutines, as many as the harness's connections;
// with -cpu 1, ns/op is CPU per request. Every response is built fresh
// with what a transport must hand out and no more: an http.Response, its
// Header map with nginx's eight fields, and their values in one slab,
// which is how egress builds a small response (4 allocations).
//
//   - direct: RoundTrip builds and returns the response on the caller's
//     goroutine: http.Client's own cost, the response's allocations, and
//     the collector's share of them.
//   - handoff: RoundTrip parks the caller until another goroutine, standing
//     for an event loop, builds the response and wakes it, taking waiting
//     callers in batches as a loop takes readiness events. This adds the
//     park and wake-up per request that any client whose I/O runs apart
//     from its callers pays.
func BenchmarkClientContract(b *testing.B) {
	for _, mode := range []string{"direct", "handoff"} {
		for _, callers := range []int{64, 256} {
			b.Run(mode+"/callers="+strconv.Itoa(callers), func(b *testing.B) {
				rt := &floorRT{}
				if mode == "handoff" {
					rt.calls = make(chan *floorCall, callers)
					go rt.serve()
					defer close(rt.calls)
				}
				client := &http.Client{Transport: rt}
				b.ReportAllocs()
				b.SetParallelism(max(callers/runtime.GOMAXPROCS(0), 1))
				b.RunParallel(func(pb *testing.PB) {
					req, _ := http.NewRequest("GET", "http://floor.invalid/small", nil)
					for pb.Next() {
						resp, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				})
			})
		}
	}
}

// floorRT is the RoundTripper of BenchmarkClientContract.
type floorRT struct {
	calls chan *floorCall // nil: answer on the caller's goroutine
}

type floorCall struct {
	resp *http.Response
	done chan struct{}
}

var floorCalls = sync.Pool{New: func() any { return &floorCall{done: make(chan struct{}, 1)} }}

func (rt *floorRT) RoundTrip(*http.Request) (*http.Response, error) {
	if rt.calls == nil {
		return newFloorResponse(), nil
	}
	c := floorCalls.Get().(*floorCall)
	rt.calls <- c
	<-c.done
	resp := c.resp
	c.resp = nil
	floorCalls.Put(c)
	return resp, nil
}

// serve answers the parked callers in batches, as an event loop answers
// the connections its poller reports ready.
func (rt *floorRT) serve() {
	for c := range rt.calls {
		for {
			c.resp = newFloorResponse()
			c.done <- struct{}{}
			select {
			case next, ok := <-rt.calls:
				if !ok {
					return
				}
				c = next
				continue
			default:
			}
			break
		}
	}
}

// floorFields are the header fields nginx sends with a small static file.
var floorFields = [8][2]string{
	{"Server", "nginx/1.22.1"},
	{"Date", "Sun, 06 Dec 2026 12:00:00 GMT"},
	{"Content-Type", "application/octet-stream"},
	{"Content-Length", "0"},
	{"Last-Modified", "Sun, 06 Dec 2026 11:00:00 GMT"},
	{"Connection", "keep-alive"},
	{"Etag", `"6753f0c0-d"`},
	{"Accept-Ranges", "bytes"},
}

var floorSlab = func() []byte {
	var b []byte
	for _, f := range floorFields {
		b = append(b, f[1]...)
	}
	return b
}()

// newFloorResponse builds a response the way egress builds a small one:
// the Response and the values' array in one allocation, the Header map
// (two), and the values' bytes copied into one slab (one), as a parser
// must copy them out of its read buffer.
func newFloorResponse() *http.Response {
	r := new(struct {
		http.Response
		vals [8]string
	})
	slab := string(floorSlab)
	h := make(http.Header, len(floorFields))
	off := 0
	for i, f := range floorFields {
		r.vals[i] = slab[off : off+len(f[1])]
		off += len(f[1])
		h[f[0]] = r.vals[i : i+1 : i+1]
	}
	r.Response = http.Response{Status: "200 OK", StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Body: http.NoBody}
	return &r.Response
}
