package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	htmlpkg "html"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// protoHandler answers with the protocol the request came in.
var protoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Write([]byte(r.Proto))
})

// h2cServer is Go's server speaking HTTP/1.1 and h2c with prior
// knowledge on loopback. It counts the connections it accepted (bench's
// reachability check is one) and the connections requests came on.
type h2cServer struct {
	url   string
	conns atomic.Int64
	mu    sync.Mutex
	used  map[string]bool // remote addresses that sent a request
}

func (s *h2cServer) usedConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.used)
}

func startH2C(t *testing.T, h http.Handler) *h2cServer {
	t.Helper()
	return startH2CLimit(t, h, 250) // get -v shows it
}

// startH2CLimit is startH2C with the server's MAX_CONCURRENT_STREAMS.
func startH2CLimit(t *testing.T, h http.Handler, maxStreams int) *h2cServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &h2cServer{url: "http://" + ln.Addr().String() + "/", used: map[string]bool{}}
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.used[r.RemoteAddr] = true
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: record, Protocols: new(http.Protocols),
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: maxStreams}}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	srv.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return s
}

// startTLS starts an httptest TLS server, offering h2 by ALPN if h2, and
// returns it with a --cacert file for its certificate.
func startTLS(t *testing.T, h http.Handler, h2 bool) (*httptest.Server, string) {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.EnableHTTP2 = h2
	s.StartTLS()
	t.Cleanup(s.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return s, ca
}

func TestGetProtocolFlags(t *testing.T) {
	testkit.CheckLeaks(t)
	h2c := startH2C(t, protoHandler)
	tlsH2, ca := startTLS(t, protoHandler, true)
	tlsH1, ca1 := startTLS(t, protoHandler, false)
	for _, tc := range []struct {
		name string
		args []string
		want string   // the protocol the server saw
		logs []string // in the -v output
	}{
		{"h2c prior knowledge", []string{"--http2-prior-knowledge", h2c.url}, "HTTP/2.0",
			[]string{"> GET / HTTP/2\n", "< HTTP/2.0 200", "* protocol     HTTP/2.0",
				"* server SETTINGS: MAX_CONCURRENT_STREAMS 250, "}},
		{"http:// default", []string{h2c.url}, "HTTP/1.1",
			[]string{"> GET / HTTP/1.1\n", "< HTTP/1.1 200", "* protocol     HTTP/1.1"}},
		{"http:// --http2 (no Upgrade)", []string{"--http2", h2c.url}, "HTTP/1.1", []string{"* protocol     HTTP/1.1"}},
		{"https default", []string{"--cacert", ca, tlsH2.URL + "/"}, "HTTP/2.0",
			[]string{"> GET / HTTP/2\n", "< HTTP/2.0 200", ", ALPN h2\n", "* protocol     HTTP/2.0", "* server SETTINGS: "}},
		{"https --http2", []string{"--http2", "--cacert", ca, tlsH2.URL + "/"}, "HTTP/2.0",
			[]string{", ALPN h2\n", "* protocol     HTTP/2.0"}},
		{"https --http1.1", []string{"--http1.1", "--cacert", ca, tlsH2.URL + "/"}, "HTTP/1.1",
			[]string{"< HTTP/1.1 200", "* protocol     HTTP/1.1"}},
		{"https --http2, server without h2", []string{"--http2", "--cacert", ca1, tlsH1.URL + "/"}, "HTTP/1.1",
			[]string{"< HTTP/1.1 200", "* protocol     HTTP/1.1"}},
	} {
		out, errOut, code := cli(t, append([]string{"get", "-v"}, tc.args...)...)
		if code != 0 || out != tc.want {
			t.Errorf("%s: exit %d, server saw %q, want %q\n%s", tc.name, code, out, tc.want, errOut)
			continue
		}
		for _, l := range tc.logs {
			if !strings.Contains(errOut, l) {
				t.Errorf("%s: -v output lacks %q:\n%s", tc.name, l, errOut)
			}
		}
		if tc.want == "HTTP/1.1" && strings.Contains(errOut, "SETTINGS") {
			t.Errorf("%s: HTTP/2 SETTINGS shown for HTTP/1.1:\n%s", tc.name, errOut)
		}
	}
}

func TestProtocolFlagsExclusive(t *testing.T) {
	testkit.CheckLeaks(t)
	for _, args := range [][]string{
		{"get", "--http2", "--http1.1", "http://127.0.0.1:1/"},
		{"get", "--http2-prior-knowledge", "--http1.1", "http://127.0.0.1:1/"},
		{"bench", "--http2", "--http2-prior-knowledge", "-n", "1", "http://127.0.0.1:1/"},
		{"bench", "--http1.1", "--http2", "-n", "1", "http://127.0.0.1:1/"},
	} {
		_, errOut, code := cli(t, args...)
		if code != 2 || !strings.Contains(errOut, "exclude each other") {
			t.Errorf("%v: exit %d\n%s", args, code, errOut)
		}
		oneLineError(t, errOut)
	}
}

// TestBenchStreamsNeedHTTP2 checks that -m above 1 is refused where the
// run would speak HTTP/1.1, before any connection.
func TestBenchStreamsNeedHTTP2(t *testing.T) {
	testkit.CheckLeaks(t)
	h2c := startH2C(t, protoHandler)
	for _, tc := range []struct {
		args []string
		why  string
	}{
		{[]string{h2c.url}, "without --http2-prior-knowledge"},
		{[]string{"--http2", h2c.url}, "without --http2-prior-knowledge"},
		{[]string{"--http1.1", "https://127.0.0.1:1/"}, "with --http1.1"},
		{nil, "without --http2-prior-knowledge"}, // the embedded server, on http://
	} {
		args := append([]string{"bench", "-m", "4", "-n", "10"}, tc.args...)
		_, errOut, code := cli(t, args...)
		if code != 2 || !strings.Contains(errOut, "-m/--streams 4 needs HTTP/2") || !strings.Contains(errOut, tc.why) {
			t.Errorf("%v: exit %d\n%s", args, code, errOut)
		}
		oneLineError(t, errOut)
	}
	if n := h2c.conns.Load(); n != 0 {
		t.Errorf("a refused run opened %d connections", n)
	}
	_, errOut, code := cli(t, "bench", "-m", "0", "-n", "1", "--http2-prior-knowledge", h2c.url)
	if code != 2 || !strings.Contains(errOut, "-m/--streams must be at least 1") {
		t.Errorf("-m 0: exit %d\n%s", code, errOut)
	}
}

// streamsJSON is the part of the report about protocols and streams.
type streamsJSON struct {
	Protocol  string           `json:"protocol"`
	Protocols map[string]int64 `json:"protocols"`
	Conns     struct {
		Asked   int   `json:"asked"`
		Streams int   `json:"streams"`
		Dialed  int64 `json:"dialed"`
	} `json:"connections"`
}

// TestBenchHTTP2Streams runs -c 2 -m 10 over h2c: 20 requests in flight
// on 2 connections. The handler holds each request until 20 are in it at
// once (or a generous bound passes), so the peak it saw proves the
// streams were multiplexed as asked.
func TestBenchHTTP2Streams(t *testing.T) {
	testkit.CheckLeaks(t)
	const want = 20
	var mu sync.Mutex
	inside, peak := 0, 0
	gate := make(chan struct{})
	h2c := startH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inside++
		peak = max(peak, inside)
		if inside == want {
			select {
			case <-gate:
			default:
				close(gate)
			}
		}
		mu.Unlock()
		select {
		case <-gate:
		case <-time.After(10 * time.Second):
		}
		w.Write([]byte(r.Proto))
		mu.Lock()
		inside--
		mu.Unlock()
	}))
	out, errOut, code := cli(t, "bench", "--json", "--http2-prior-knowledge", "-c", "2", "-m", "10", "-n", "400", h2c.url)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	r := parseReport(t, out)
	if r.Status["200"] != 400 || r.ErrorsTotal != 0 || r.Incomplete != 0 {
		t.Errorf("status %v errors %v incomplete %d", r.Status, r.Errors, r.Incomplete)
	}
	var s streamsJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Protocol != "HTTP/2.0" || s.Protocols["HTTP/2.0"] != 400 || len(s.Protocols) != 1 {
		t.Errorf("protocol %q %v, want HTTP/2.0 for all 400", s.Protocol, s.Protocols)
	}
	if s.Conns.Asked != 2 || s.Conns.Streams != 10 || s.Conns.Dialed != 2 {
		t.Errorf("connections %+v, want 2 asked, 10 streams, 2 dialed", s.Conns)
	}
	if n := h2c.usedConns(); n != 2 {
		t.Errorf("requests came on %d connections, want 2", n)
	}
	mu.Lock()
	if peak != want {
		t.Errorf("at most %d requests were in flight at once, want %d", peak, want)
	}
	mu.Unlock()

	// The text report names the protocol and the streams, and so does
	// the HTML one, which embeds it.
	html := filepath.Join(t.TempDir(), "run.html")
	out, errOut, code = cli(t, "bench", "--http2-prior-knowledge", "-c", "2", "-m", "10", "-n", "100", "--html", html, h2c.url)
	if code != 0 {
		t.Fatalf("text: exit %d\n%s", code, errOut)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"  protocol      HTTP/2.0\n", "asked 2 with 10 streams each"} {
		if !strings.Contains(out, l) {
			t.Errorf("text report lacks %q:\n%s", l, out)
		}
		if !strings.Contains(string(page), l) {
			t.Errorf("HTML report lacks %q", l)
		}
	}
}

// TestBenchProtocolHTTP1 checks the report of an HTTP/1.1 run, and the
// https fallback: -m above 1 runs, and the report warns that the server
// did not pick HTTP/2.
func TestBenchProtocolHTTP1(t *testing.T) {
	testkit.CheckLeaks(t)
	h2c := startH2C(t, protoHandler)
	out, errOut, code := cli(t, "bench", "--json", "-c", "2", "-n", "20", h2c.url)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var s streamsJSON
	json.Unmarshal([]byte(out), &s)
	if s.Protocol != "HTTP/1.1" || s.Protocols["HTTP/1.1"] != 20 || s.Conns.Streams != 1 {
		t.Errorf("protocol %q %v streams %d", s.Protocol, s.Protocols, s.Conns.Streams)
	}
	tlsH1, ca := startTLS(t, protoHandler, false)
	out, errOut, code = cli(t, "bench", "--json", "--cacert", ca, "-c", "2", "-m", "4", "-n", "40", tlsH1.URL+"/")
	if code != 0 {
		t.Fatalf("https -m 4 without h2: exit %d\n%s", code, errOut)
	}
	r := parseReport(t, out)
	json.Unmarshal([]byte(out), &s)
	if s.Protocol != "HTTP/1.1" || r.Status["200"] != 40 || r.Conns.Dialed > 2 {
		t.Errorf("protocol %q status %v dialed %d", s.Protocol, r.Status, r.Conns.Dialed)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "came over HTTP/1.1") {
		t.Errorf("no warning about HTTP/1.1: %q", r.Warnings)
	}
}

// heldRun benchmarks, with -c 2 -m streams over h2c, a server allowing
// limit streams per connection. The server answers the first 40 requests
// at once, then holds every request until the run gives up on it: it
// sends the head and then a byte of body every 50 ms, so that no timeout
// (-t 1s) ends it. Once the server holds want at once the run is
// interrupted, as by ^C; its end waits -t for the requests in flight,
// then reports: the streams in flight at the end are the ones held,
// whatever the sampling caught before.
func heldRun(t *testing.T, limit, streams, want int, args ...string) (out, errOut string, srv *h2cServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	answered, held := 0, 0
	srv = startH2CLimit(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if answered < 40 {
			answered++
			mu.Unlock()
			w.Write([]byte("ok"))
			return
		}
		held++
		if held == want {
			cancel()
		}
		mu.Unlock()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for range 600 { // 30 s at most
			w.Write([]byte("."))
			w.(http.Flusher).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done(): // the client gave up on it, or the server closed
				return
			}
		}
	}), limit)
	var o, e syncBuffer
	args = append([]string{"bench", "--http2-prior-knowledge", "-c", "2", "-m", strconv.Itoa(streams),
		"-d", "20s", "-t", "1s"}, append(args, srv.url)...)
	code := run(ctx, args, &o, &e)
	mu.Lock()
	defer mu.Unlock()
	if held != want || code == 0 || !strings.Contains(e.String(), "interrupted") {
		t.Fatalf("the server held %d requests at most, want %d; exit %d\n%s", held, want, code, e.String())
	}
	return o.String(), e.String(), srv
}

// limitJSON is the part of the report about streams and pushback.
type limitJSON struct {
	Protocol   string           `json:"protocol"`
	Status     map[string]int64 `json:"status"`
	Incomplete int64            `json:"incomplete"`
	Warnings   []string         `json:"warnings"`
	Conns      struct {
		Asked       int              `json:"asked"`
		Streams     int              `json:"streams"`
		Dialed      int64            `json:"dialed"`
		Achieved    *int64           `json:"streams_achieved"`
		Mean        *float64         `json:"streams_achieved_mean"`
		ServerLimit int64            `json:"server_max_streams"`
		Beyond      *int64           `json:"beyond_asked"`
		Resets      int64            `json:"stream_resets"`
		ResetCodes  map[string]int64 `json:"stream_reset_codes"`
	} `json:"connections"`
}

// TestBenchHTTP2StreamLimit runs -c 2 -m 30 against a server that allows
// 10 streams per connection: the report says 30 asked and 10 achieved
// from the engine's state, names the server's limit, counts no
// connection beyond the 2 asked (the server saw 2), warns, and says so
// in the text and HTML reports too. With the server allowing 250, the
// same run achieves the 30 asked, without the warning.
func TestBenchHTTP2StreamLimit(t *testing.T) {
	testkit.CheckLeaks(t)
	out, _, srv := heldRun(t, 10, 30, 20, "--json")
	var r limitJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := r.Conns
	// In flight at the end: the 20 held, and those of the 40 waiting for
	// a stream that were sent before the interrupt.
	if r.Protocol != "HTTP/2.0" || r.Status["200"] != 40 || r.Incomplete < 20 || r.Incomplete > 60 {
		t.Errorf("protocol %q status %v incomplete %d", r.Protocol, r.Status, r.Incomplete)
	}
	if c.Asked != 2 || c.Streams != 30 || c.Achieved == nil || *c.Achieved != 10 || c.Mean == nil || *c.Mean != 10 ||
		c.ServerLimit != 10 || c.Beyond == nil || *c.Beyond != 0 || c.Dialed != 2 {
		t.Errorf("connections: %s", out)
	}
	if n := srv.usedConns(); n != 2 {
		t.Errorf("requests came on %d connections, want the 2 asked", n)
	}
	if w := strings.Join(r.Warnings, "\n"); !strings.Contains(w, "the server allows 10 streams per connection") {
		t.Errorf("warnings %q", r.Warnings)
	}
	// Streams refused before the server's SETTINGS arrived are the only
	// resets here, and are named so.
	var sum int64
	for code, n := range c.ResetCodes {
		sum += n
		if code != "REFUSED_STREAM" {
			t.Errorf("reset code %s", code)
		}
	}
	if sum != c.Resets {
		t.Errorf("reset codes %v for %d resets", c.ResetCodes, c.Resets)
	}

	page := filepath.Join(t.TempDir(), "run.html")
	out, _, _ = heldRun(t, 10, 30, 20, "--html", page)
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{
		"HTTP/2 streams per connection: asked 30, achieved 10 (most in flight on one connection at once; mean over the 2 connections 10.0); server's MAX_CONCURRENT_STREAMS 10\n",
		"beyond the 2 connections asked: 0 open at once. bench opens no connection because of MAX_CONCURRENT_STREAMS",
		"WARNING: the server allows 10 streams per connection",
	} {
		if !strings.Contains(out, l) {
			t.Errorf("text report lacks %q:\n%s", l, out)
		}
		if !strings.Contains(string(html), htmlpkg.EscapeString(l)) {
			t.Errorf("HTML report lacks %q", l)
		}
	}

	out, _, _ = heldRun(t, 250, 30, 60, "--json")
	r = limitJSON{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if c := r.Conns; c.Achieved == nil || *c.Achieved != 30 || *c.Mean != 30 || c.ServerLimit != 250 ||
		strings.Contains(strings.Join(r.Warnings, "\n"), "streams per connection") {
		t.Errorf("server allowing 250: %s", out)
	}
}

// TestBenchHTTP2ResetCodes: streams the server resets are counted with
// their code in the JSON and the text report.
func TestBenchHTTP2ResetCodes(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := startH2C(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler) // net/http resets the stream: INTERNAL_ERROR
	}))
	out, errOut, code := cli(t, "bench", "--json", "--http2-prior-knowledge", "-c", "1", "-n", "10", srv.url)
	var r limitJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 {
		t.Fatalf("exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if c := r.Conns; c.Resets != 10 || len(c.ResetCodes) != 1 || c.ResetCodes["INTERNAL_ERROR"] != 10 {
		t.Errorf("resets %d codes %v", c.Resets, c.ResetCodes)
	}
	out, _, _ = cli(t, "bench", "--http2-prior-knowledge", "-c", "1", "-n", "10", srv.url)
	if want := "streams reset by the server 10 (INTERNAL_ERROR 10)"; !strings.Contains(out, want) {
		t.Errorf("text report lacks %q:\n%s", want, out)
	}
}
