package egress

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/egress-go/egress/http2"
	"github.com/egress-go/egress/internal/testkit"
	xhttp2 "golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HTTP/2 round trips against a canned h2c server, egress (both APIs),
// golang.org/x/net/http2's Transport and net/http's in the same run:
//
//	go test -run '^$' -bench H2 -benchmem .
//
// The server answers every request with the same 13-byte response from
// pre-encoded frames and allocates nothing per request, so that the
// allocations reported are the client's.

// cannedH2 holds the canned response's header blocks, as a server's
// HPACK encoder makes them: the first response of a connection adds its
// fields to the dynamic table, and every later one refers to them (which
// is what real servers' responses look like in steady state).
var cannedH2 = func() (r struct{ first, next, body []byte }) {
	var buf hpackBuf
	enc := hpack.NewEncoder(&buf)
	fields := []hpack.HeaderField{
		{Name: ":status", Value: "200"},
		{Name: "content-length", Value: "13"},
		{Name: "content-type", Value: "text/plain"},
	}
	for i := range 2 {
		buf.b = nil
		for _, f := range fields {
			enc.WriteField(f)
		}
		if i == 0 {
			r.first = buf.b
		} else {
			r.next = buf.b
		}
	}
	r.body = []byte("hello, egress")
	return
}()

type hpackBuf struct{ b []byte }

func (w *hpackBuf) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// serveCannedH2 speaks just enough HTTP/2 for the benchmarks: it
// acknowledges SETTINGS and PINGs, ignores the rest, and answers each
// request when its stream's request ends.
func serveCannedH2(c net.Conn) {
	buf := make([]byte, 64<<10)
	out := make([]byte, 0, 64<<10)
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil {
		return
	}
	out = http2.AppendSettings(out, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1000},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	out = http2.AppendWindowUpdate(out, 0, 1<<30)
	sp := http2.Splitter{MaxFrameSize: 1 << 20, MaxHeaderBlock: 1 << 20}
	block := cannedH2.first
	for {
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		in := buf[:n]
		for len(in) > 0 {
			f, k, err := sp.Next(in)
			in = in[k:]
			if err != nil {
				return
			}
			if f == nil {
				break
			}
			switch h := f.FrameHeader; h.Type {
			case http2.FrameSettings:
				if !h.Flags.Has(http2.FlagAck) {
					out = http2.AppendSettingsAck(out)
				}
			case http2.FramePing:
				if !h.Flags.Has(http2.FlagAck) {
					out = http2.AppendPing(out, true, [8]byte(f.Data))
				}
			case http2.FrameHeaders, http2.FrameData:
				if h.Flags.Has(http2.FlagEndStream) {
					out = http2.AppendHeaders(out, h.StreamID, false, block, 1<<14)
					block = cannedH2.next
					out = http2.AppendData(out, h.StreamID, true, cannedH2.body)
				}
			}
		}
	}
}

func newCannedH2(tb testing.TB) string {
	return "http://" + testkit.NewServer(tb, serveCannedH2).Addr()
}

func h2Transport(tb testing.TB) *Transport {
	t, err := NewTransport(Options{HTTP2: HTTP2Options{PriorKnowledge: true}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { t.Close() })
	return t
}

// xnetH2C is x/net/http2's Transport speaking h2c.
func xnetH2C() *xhttp2.Transport {
	return &xhttp2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// netHTTPH2C is net/http's Transport speaking h2c with prior knowledge.
func netHTTPH2C() *http.Transport {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return tr
}

func BenchmarkH2GetExchange(b *testing.B) {
	url := newCannedH2(b)
	run := exchangeLoop(b, h2Transport(b), url+"/")
	run(10)
	b.ReportAllocs()
	b.ResetTimer()
	run(b.N)
}

func BenchmarkH2GetRoundTrip(b *testing.B) {
	benchClient(b, &http.Client{Transport: h2Transport(b)}, newCannedH2(b))
}

func BenchmarkH2GetXNetHTTP2(b *testing.B) {
	tr := xnetH2C()
	defer tr.CloseIdleConnections()
	benchClient(b, &http.Client{Transport: tr}, newCannedH2(b))
}

func BenchmarkH2GetNetHTTP(b *testing.B) {
	tr := netHTTPH2C()
	defer tr.CloseIdleConnections()
	benchClient(b, &http.Client{Transport: tr}, newCannedH2(b))
}

// 100 streams in flight on one connection.
const h2InFlight = 100

func BenchmarkH2Streams100Exchange(b *testing.B) {
	url := newCannedH2(b)
	t := h2Transport(b)
	exchangeLoop(b, t, url+"/")(1) // the connection, before the burst
	var left atomic.Int64
	done := make(chan error, 1)
	finish := func(err error) {
		select {
		case done <- err:
		default:
		}
	}
	onDone := func(ex *Exchange, err error) {
		if err != nil {
			finish(err)
			return
		}
		switch n := left.Add(-1); {
		case n >= h2InFlight:
			if err := t.Send(ex); err != nil {
				finish(err)
			}
		case n == 0:
			finish(nil)
		}
	}
	exs := make([]*Exchange, h2InFlight)
	for i := range exs {
		exs[i] = &Exchange{URL: url + "/", OnDone: onDone}
	}
	b.ReportAllocs()
	b.ResetTimer()
	left.Store(int64(max(b.N, h2InFlight)))
	for _, ex := range exs {
		if err := t.Send(ex); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

func BenchmarkH2Streams100RoundTrip(b *testing.B) {
	benchStreams(b, &http.Client{Transport: h2Transport(b)}, newCannedH2(b))
}

func BenchmarkH2Streams100XNetHTTP2(b *testing.B) {
	tr := xnetH2C()
	defer tr.CloseIdleConnections()
	benchStreams(b, &http.Client{Transport: tr}, newCannedH2(b))
}

func BenchmarkH2Streams100NetHTTP(b *testing.B) {
	tr := netHTTPH2C()
	defer tr.CloseIdleConnections()
	benchStreams(b, &http.Client{Transport: tr}, newCannedH2(b))
}

// benchStreams keeps h2InFlight requests in flight from as many
// goroutines.
func benchStreams(b *testing.B, c *http.Client, url string) {
	get := func() error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	if err := get(); err != nil {
		b.Fatal(err)
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ReportAllocs()
	b.ResetTimer()
	for range h2InFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := get(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// TestH2ExchangeSteadyStateAllocs: over HTTP/2 too, a reused Exchange on
// a kept-alive connection allocates nothing per request (timed in
// batches, so that one allocation every hundred requests fails it).
func TestH2ExchangeSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	testkit.CheckLeaks(t)
	url := newCannedH2(t)
	tr := newTestTransport(t, Options{HTTP2: HTTP2Options{PriorKnowledge: true}})
	run := exchangeLoop(t, tr, url+"/")
	run(50)
	if a := testkit.AllocsPerOp(20, testkit.AllocBatch, func() { run(1) }); a > 0 {
		t.Fatalf("%.2f allocations per request over HTTP/2, want 0", a)
	}
}
