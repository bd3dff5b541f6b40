package egress

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress/http2"
	"github.com/egress-go/egress/internal/testkit"
)

// HTTP/2 under load against Go's h2c server: many more requests than
// the server allows streams, and a long download read slowly.

type connKey struct{}

// heldServer is Go's h2c server with a stream limit, whose /hold requests
// wait for the gate to open, counting how many are in flight on each
// connection, so that a test can see the streams pile up to the limit.
type heldServer struct {
	url  string
	gate chan struct{}

	mu       sync.Mutex
	inFlight map[net.Conn]int
	maxConn  int // the most /hold requests in flight on one connection
	total    int // /hold requests in flight
}

func newHeldServer(t *testing.T, maxStreams int) *heldServer {
	t.Helper()
	s := &heldServer{gate: make(chan struct{}), inFlight: map[net.Conn]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/warm", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "warm") })
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		c := r.Context().Value(connKey{}).(net.Conn)
		s.mu.Lock()
		s.inFlight[c]++
		s.total++
		s.maxConn = max(s.maxConn, s.inFlight[c])
		s.mu.Unlock()
		select {
		case <-s.gate:
		case <-r.Context().Done():
		}
		s.mu.Lock()
		s.inFlight[c]--
		s.total--
		s.mu.Unlock()
		io.WriteString(w, "held "+r.URL.Query().Get("i"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:     mux,
		Protocols:   new(http.Protocols),
		HTTP2:       &http.HTTP2Config{MaxConcurrentStreams: maxStreams},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
	}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	t.Cleanup(func() {
		s.open()
		srv.Close()
	})
	s.url = "http://" + ln.Addr().String()
	return s
}

// open lets the held requests, and those to come, answer.
func (s *heldServer) open() {
	select {
	case <-s.gate:
	default:
		close(s.gate)
	}
}

func (s *heldServer) counts() (total, maxConn int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total, s.maxConn
}

// 1,000 concurrent requests against a server that allows 100 streams per
// connection all succeed, none over the limit (the server would refuse
// it, and Stats would count a retry). With WaitForStreams they share one
// connection and wait for its streams; without, more connections open,
// up to Pool.MaxTotalPerKey, each carrying 100 streams.
//
// A limit other than the 100 streams assumed until the server's SETTINGS
// arrive checks that the pool follows the limit the server sets.
func TestH2ThousandStreamsOverLimit(t *testing.T) {
	const n, perKey = 1000, 4
	for _, tc := range []struct {
		limit int
		wait  bool
	}{{100, true}, {100, false}, {37, true}} {
		limit, wait := tc.limit, tc.wait
		name := fmt.Sprintf("limit %d, WaitForStreams", limit)
		if !wait {
			name = fmt.Sprintf("limit %d, more connections", limit)
		}
		t.Run(name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			srv := newHeldServer(t, limit)
			conns := 1
			opts := Options{HTTP2: HTTP2Options{WaitForStreams: wait}}
			if !wait {
				conns = perKey
				opts.Pool = poolConfig(perKey)
			}
			tr, client := h2Client(t, opts)
			// One request first, so that the server's SETTINGS are known.
			if _, body, err := getBody(client, srv.url+"/warm"); err != nil || body != "warm" {
				t.Fatalf("warm-up: %q, %v", body, err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, body, err := getBody(client, fmt.Sprintf("%s/hold?i=%d", srv.url, i))
					if err != nil || body != "held "+strconv.Itoa(i) {
						errs <- fmt.Errorf("request %d: %q, %v", i, body, err)
					}
				}()
			}
			// Every stream the connections allow is taken, and the other
			// requests wait in the pool.
			testkit.WaitFor(t, "the streams to fill up", func() bool {
				total, _ := srv.counts()
				return total == conns*limit && tr.Stats().Pool.Waiting == n-conns*limit
			})
			st := tr.Stats().Pool
			if st.Multiplexed != conns || st.StreamsInUse != conns*limit || st.Dials != int64(conns) {
				t.Errorf("with the streams full: %d multiplexed connections, %d streams in use, %d dials; want %d, %d, %d",
					st.Multiplexed, st.StreamsInUse, st.Dials, conns, conns*limit, conns)
			}
			srv.open()
			waitGroup(t, &wg, "every request to be answered")
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			s := tr.Stats()
			if _, maxConn := srv.counts(); maxConn > limit {
				t.Errorf("%d requests in flight on one connection, over the limit of %d", maxConn, limit)
			}
			if s.Retries != 0 || s.Failures != 0 || s.Pool.Dials != int64(conns) {
				t.Errorf("%d retries, %d failures, %d dials; want 0, 0, %d", s.Retries, s.Failures, s.Pool.Dials, conns)
			}
			if s.Pool.StreamsInUse != 0 || s.Pool.Waiting != 0 || s.Pool.Multiplexed != conns {
				t.Errorf("after: %d streams in use, %d waiting, %d multiplexed connections; want 0, 0, %d",
					s.Pool.StreamsInUse, s.Pool.Waiting, s.Pool.Multiplexed, conns)
			}
		})
	}
}

// A 1 GiB download read slowly holds the client's memory to the stream
// window: the reader's pace, not the server's, sets what is buffered.
// The race detector slows the transfer down about fivefold (1 GiB takes
// some 15 s on two cores), so under it the download is 256 MiB; under
// -short, 64 MiB.
func TestH2LargeDownloadSlowReader(t *testing.T) {
	testkit.CheckLeaks(t)
	size := int64(1 << 30)
	switch {
	case testing.Short():
		size = 64 << 20
	case raceEnabled:
		size = 256 << 20
	}
	// The window grows with the bandwidth-delay estimate, up to this.
	const maxWindow = 1 << 20
	chunk := pattern(64 << 10)
	url := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		for sent := int64(0); sent < size; sent += int64(len(chunk)) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	_, client := h2Client(t, Options{HTTP2: HTTP2Options{Config: http2.Config{MaxStreamWindow: maxWindow}}})
	start := time.Now()
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("spoke %s", resp.Proto)
	}
	base := heapInuse(true)
	var peak uint64
	buf := make([]byte, 64<<10)
	var total int64
	for {
		n, err := io.ReadFull(resp.Body, buf)
		if n > 0 && (total+int64(n) > size || !bytes.Equal(buf[:n], chunk[:n])) {
			t.Fatalf("wrong bytes at offset %d", total)
		}
		total += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// A slow reader: a short pause every MiB, and every 64 MiB a long
		// one, in which the server fills the window and stops (or, were
		// credit given for bytes not yet read, would send tens of MiB);
		// then a look at the live heap.
		switch {
		case total%(64<<20) == 0:
			time.Sleep(100 * time.Millisecond)
			peak = max(peak, heapInuse(true))
		case total%(1<<20) == 0:
			time.Sleep(time.Millisecond)
		}
	}
	if total != size {
		t.Fatalf("read %d of %d bytes", total, size)
	}
	grew := int64(peak) - int64(base)
	t.Logf("%d MiB in %v; heap at most %d KiB above the start", size>>20, time.Since(start).Round(time.Millisecond), grew>>10)
	if grew > maxWindow+3<<20 {
		t.Fatalf("heap grew by %d KiB reading %d MiB slowly; want at most the stream window (%d KiB) and 3 MiB", grew>>10, size>>20, maxWindow>>10)
	}
}
