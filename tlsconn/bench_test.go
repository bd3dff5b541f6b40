//go:build unix

package tlsconn

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

// Benchmarks for issue 3 (scenarios tls-handshake and tls-idle of the
// benchmark harness, until it exists). Both compare the engine's TLS layer
// with crypto/tls over net.Conn, against the same server in the same run.
//
//	go test -run '^$' -bench 'Handshake' -benchtime 2000x ./tlsconn/
//	go test -run '^$' -bench 'IdleMemory' -benchtime 1x ./tlsconn/
//
// The second opens 10,000 connections (TLSCONN_IDLE_CONNS changes that;
// TLSCONN_IDLE_MSG sets the size of the echo each does first).

// handshakeConcurrency is how many handshakes each client keeps in flight.
const handshakeConcurrency = 8

// BenchmarkHandshake measures full and resumed handshakes per second from
// the engine and from crypto/tls over net.Conn (a goroutine per dial),
// against one crypto/tls server in this process. Each iteration is a TCP
// connect, a handshake and a close; the server's share of the CPU is in
// the figures for both clients alike.
func BenchmarkHandshake(b *testing.B) {
	scfg := serverTLS()
	addr := testkit.NewServer(b, func(c net.Conn) {
		tc := tls.Server(c, scfg)
		tc.SetDeadline(time.Now().Add(30 * time.Second))
		if tc.Handshake() == nil {
			io.Copy(io.Discard, tc)
		}
	}).Addr()

	for _, mode := range []string{"full", "resumed"} {
		cfg := Config{RootCAsPEM: pki().ca.pem, DisableResumption: mode == "full"}
		b.Run("engine/"+mode, func(b *testing.B) {
			cl, err := NewClient(&cfg)
			if err != nil {
				b.Fatal(err)
			}
			e, err := engine.New(engine.Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			benchEngineHandshakes(b, e, cl, addr, 1) // warm the session cache
			b.ResetTimer()
			resumed := benchEngineHandshakes(b, e, cl, addr, b.N)
			reportHandshakes(b, resumed)
		})
		b.Run("netconn/"+mode, func(b *testing.B) {
			cl, err := NewClient(&cfg)
			if err != nil {
				b.Fatal(err)
			}
			tcfg := cl.configFor("localhost")
			warmNetSession(b, tcfg, addr)
			b.ResetTimer()
			resumed := benchNetHandshakes(b, tcfg, addr, b.N)
			reportHandshakes(b, resumed)
		})
	}
}

func reportHandshakes(b *testing.B, resumed int64) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
	b.ReportMetric(100*float64(resumed)/float64(b.N), "%resumed")
}

// benchEngineHandshakes runs n handshakes with handshakeConcurrency in
// flight and returns how many resumed.
func benchEngineHandshakes(b *testing.B, e *engine.Engine, cl *Client, addr string, n int) (resumed int64) {
	var started, done atomic.Int64
	var failed atomic.Value
	finished := make(chan struct{})
	var dialOne func()
	h := &engine.HandlerFuncs{
		Open: func(c *engine.Conn) {
			if st, _ := State(c); st.DidResume {
				atomic.AddInt64(&resumed, 1)
			}
			c.Close()
		},
		Close: func(c *engine.Conn, err error) {
			if err != engine.ErrLocalClose {
				failed.CompareAndSwap(nil, err)
			}
			if done.Add(1) == int64(n) {
				close(finished)
				return
			}
			dialOne()
		},
	}
	dialOne = func() {
		if started.Add(1) > int64(n) {
			return
		}
		if _, err := e.Dial(b.Context(), "tcp", addr, h, &engine.DialOptions{Layer: cl.Layer("localhost")}); err != nil {
			failed.CompareAndSwap(nil, err)
		}
	}
	for i := 0; i < handshakeConcurrency; i++ {
		dialOne()
	}
	<-finished
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	return resumed
}

// warmNetSession makes one connection and reads until the TLS 1.3 session
// tickets have been processed (crypto/tls handles them inside Read).
func warmNetSession(b *testing.B, cfg *tls.Config, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	tc := tls.Client(c, cfg)
	if err := tc.Handshake(); err != nil {
		b.Fatal(err)
	}
	tc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	tc.Read(make([]byte, 1))
}

func benchNetHandshakes(b *testing.B, cfg *tls.Config, addr string, n int) (resumed int64) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for i := 0; i < handshakeConcurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				tc := tls.Client(c, cfg)
				if err := tc.Handshake(); err != nil {
					failed.CompareAndSwap(nil, err)
				} else if tc.ConnectionState().DidResume {
					atomic.AddInt64(&resumed, 1)
				}
				tc.Close()
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	return resumed
}

// ---- memory per idle connection ----

// BenchmarkIdleMemory measures the Go heap and stack that each idle TLS
// connection costs the client, with the server in a child process (so that
// this process holds only the client sockets): first through the engine,
// then as net.Conn + tls.Conn + a reader goroutine with a 4 KiB bufio
// buffer, blocked in Peek as net/http's connection reader is. Each
// connection does a handshake and one echo before it goes idle.
func BenchmarkIdleMemory(b *testing.B) {
	n := 10000
	if s := os.Getenv("TLSCONN_IDLE_CONNS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	raiseFileLimit()
	addr, stop := startIdleServer(b)
	defer stop()
	// A Client each, so that neither starts with the other's sessions.
	newCl := func() *Client {
		cl, err := NewClient(&Config{RootCAsPEM: pki().ca.pem})
		if err != nil {
			b.Fatal(err)
		}
		return cl
	}
	eng := measureIdle(b, "engine", n, func() func() { return openEngineIdle(b, newCl(), addr, n) })
	base := measureIdle(b, "goroutine", n, func() func() { return openNetIdle(b, newCl().configFor("localhost"), addr, n) })
	b.ReportMetric(eng, "engine-B/conn")
	b.ReportMetric(base, "goroutine-B/conn")
	b.ReportMetric(eng/base, "engine/goroutine")
}

// idleMessage is what each connection echoes before it goes idle: "ping",
// or TLSCONN_IDLE_MSG bytes, to see what crypto/tls keeps after larger
// records (its record buffer grows to fit the largest one and stays).
var idleMessage = sync.OnceValue(func() []byte {
	if n, _ := strconv.Atoi(os.Getenv("TLSCONN_IDLE_MSG")); n > 0 {
		return make([]byte, n)
	}
	return []byte("ping")
})

// measureIdle opens n idle connections and returns heap+stack bytes per
// connection, logging the breakdown.
func measureIdle(b *testing.B, name string, n int, open func() (closeAll func())) float64 {
	before := memSnapshot()
	start := time.Now()
	closeAll := open()
	took := time.Since(start)
	after := memSnapshot()
	closeAll()
	heap := float64(int64(after.heap)-int64(before.heap)) / float64(n)
	stack := float64(int64(after.stack)-int64(before.stack)) / float64(n)
	rss := float64(after.rss-before.rss) / float64(n)
	b.Logf("%-9s %6d idle TLS connections (opened in %v): heap %6.0f B/conn, stack %6.0f B/conn, heap+stack %6.0f B/conn, RSS %6.0f B/conn, goroutines %d",
		name, n, took.Round(time.Millisecond), heap, stack, heap+stack, rss, after.goroutines)
	return heap + stack
}

type memStats struct {
	heap, stack uint64
	rss         int64
	goroutines  int
}

func memSnapshot() memStats {
	runtime.GC()
	debug.FreeOSMemory() // a second GC (pooled buffers go), and RSS means something
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memStats{heap: ms.HeapAlloc, stack: ms.StackInuse, rss: rssBytes(), goroutines: runtime.NumGoroutine()}
}

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// openEngineIdle opens n connections through the engine, in batches, each
// exchanging one echo, and returns a function that closes them all.
func openEngineIdle(b *testing.B, cl *Client, addr string, n int) func() {
	e, err := engine.New(engine.Config{})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var failed atomic.Value
	sem := make(chan struct{}, 200)
	h := &engine.HandlerFuncs{
		Open: func(c *engine.Conn) { c.Write(idleMessage()) },
		Data: func(c *engine.Conn, p []byte) {
			got, _ := c.Value().(int)
			got += len(p)
			c.SetValue(got)
			if got == len(idleMessage()) {
				c.SetValue(echoed{})
				<-sem
				wg.Done()
			}
		},
		Close: func(c *engine.Conn, err error) {
			if _, ok := c.Value().(echoed); !ok && err != engine.ErrLocalClose {
				failed.CompareAndSwap(nil, err)
				<-sem
				wg.Done()
			}
		},
	}
	conns := make([]*engine.Conn, 0, n)
	for len(conns) < n {
		sem <- struct{}{} // as the net.Conn clients: 200 dials in flight
		wg.Add(1)
		c, err := e.Dial(b.Context(), "tcp", addr, h, &engine.DialOptions{Layer: cl.Layer("localhost")})
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	return func() {
		for _, c := range conns {
			c.Close()
		}
		e.Close()
	}
}

// echoed marks a connection whose echo came back.
type echoed struct{}

// openNetIdle opens n connections as net.Conn + tls.Conn + a goroutine
// each, and returns a function that closes them all.
func openNetIdle(b *testing.B, cfg *tls.Config, addr string, n int) func() {
	conns := make([]*tls.Conn, 0, n)
	var readers sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, 200)
	var dialers sync.WaitGroup
	var failed atomic.Value
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			defer func() { <-sem }()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				failed.CompareAndSwap(nil, err)
				return
			}
			tc := tls.Client(c, cfg)
			br := bufio.NewReader(tc)
			if _, err := tc.Write(idleMessage()); err != nil {
				failed.CompareAndSwap(nil, err)
				return
			}
			if _, err := io.ReadFull(br, make([]byte, len(idleMessage()))); err != nil {
				failed.CompareAndSwap(nil, err)
				return
			}
			mu.Lock()
			conns = append(conns, tc)
			mu.Unlock()
			readers.Add(1)
			go func() { // the connection's reader, as in a pool
				defer readers.Done()
				br.Peek(1)
			}()
		}()
	}
	dialers.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	return func() {
		for _, c := range conns {
			c.Close()
		}
		readers.Wait()
	}
}

func raiseFileLimit() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

// startIdleServer re-runs this test binary as a TLS echo server on an
// engine (see TestIdleServerProcess) and returns its address.
func startIdleServer(b *testing.B) (string, func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleServerProcess$", "-test.v=false")
	p := pki()
	cmd.Env = append(os.Environ(), "TLSCONN_IDLE_SERVER=1",
		"TLSCONN_CERT="+string(p.serverCertPEM), "TLSCONN_KEY="+string(p.serverKeyPEM))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if err != nil || !ok {
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("idle server: %q, %v", line, err)
	}
	return addr, func() {
		stdin.Close() // the server exits when its stdin closes
		go io.Copy(io.Discard, stdout)
		cmd.Wait()
	}
}

// TestIdleServerProcess is the server side of BenchmarkIdleMemory, run in
// a child process; in a normal test run it does nothing.
func TestIdleServerProcess(t *testing.T) {
	if os.Getenv("TLSCONN_IDLE_SERVER") != "1" {
		t.Skip("helper process for BenchmarkIdleMemory")
	}
	raiseFileLimit()
	cert, err := tls.X509KeyPair([]byte(os.Getenv("TLSCONN_CERT")), []byte(os.Getenv("TLSCONN_KEY")))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ln, err := e.Listen("tcp", "127.0.0.1:0", echoHandler, &engine.ListenConfig{
		Layer: Server(&tls.Config{Certificates: []tls.Certificate{cert}}), Backlog: 4096,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fmt.Printf("ADDR %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
}
