package egress

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

// Review tests of the HTTP/1.1 response-body path of RoundTrip: direct
// reads (h1direct.go), the body pipe (body.go) and what ends them.

// TestReviewDirectResetCloseDelimited: a body delimited by the
// connection's close that the server cuts with a reset (RST), not a FIN,
// is truncated, and its reader must hear so: io.EOF would pass a partial
// download off as complete (net/http returns the reset). The server
// sends more than the loop reads before lending the socket, so the
// reader reads it directly. Plain and TLS (where the reset comes through
// crypto/tls).
func TestReviewDirectResetCloseDelimited(t *testing.T) {
	testkit.CheckLeaks(t)
	srvTLS, cliTLS := directTLS(t)
	t.Run("plain", func(t *testing.T) {
		resetCloseDelimited(t, newTestTransport(t, Options{}), nil, true)
	})
	t.Run("tls", func(t *testing.T) {
		resetCloseDelimited(t, newTestTransport(t, Options{TLSClientConfig: cliTLS}), srvTLS, true)
	})
}

// TestReviewLoopResetCloseDelimited is the same through the loop (the
// portable backend lends no socket): h1conn.onClose ends a
// close-delimited body cleanly only at the peer's end of stream.
func TestReviewLoopResetCloseDelimited(t *testing.T) {
	testkit.CheckLeaks(t)
	e, err := engine.New(engine.Config{Loops: 1, Backend: engine.BackendNet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	resetCloseDelimited(t, newTestTransport(t, Options{Engine: e}), nil, false)
}

func resetCloseDelimited(t *testing.T, tr *Transport, srvTLS *tls.Config, direct bool) {
	const sent = 256 << 10
	body := bodyPattern(sent)
	read := make(chan struct{})
	srv := testkit.NewServer(t, func(raw net.Conn) {
		c := raw
		if srvTLS != nil {
			c = tls.Server(raw, srvTLS)
		}
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
		if _, err := c.Write(body); err != nil {
			return
		}
		<-read // the client has every byte sent: the reset cannot overtake them
		raw.(*net.TCPConn).SetLinger(0)
	})
	scheme := "http://"
	if srvTLS != nil {
		scheme = "https://"
	}
	resp, err := tr.RoundTrip(ctxRequest(t, context.Background(), scheme+srv.Addr()+"/"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, sent)
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatal("the body's bytes differ")
	}
	if wentDirect(t, resp.Body) != direct {
		t.Fatalf("read directly: %v, want %v", !direct, direct)
	}
	close(read)
	n, err := resp.Body.Read(make([]byte, 64<<10))
	if n != 0 || !errors.Is(err, ErrConnClosed) {
		t.Fatalf("after a reset: %d bytes, %v; want ErrConnClosed, not the body's end", n, err)
	}
}

// reviewServer answers GET /ID?n=N&f=F with N bytes that spell ID (so
// that a response read as another's shows), framed by Content-Length
// (f=length), chunks with a trailer (f=chunked) or the close (f=close).
// With stall=1 it sends half the body and then waits for the client to
// close the connection. Requests on a connection must each parse: a
// client that reused a connection with a response unread would send its
// next request after bytes the server never sees as one, or read them as
// its own response.
func reviewServer(t *testing.T) *testkit.Server {
	return testkit.NewServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			q := req.URL.Query()
			var n int
			fmt.Sscan(q.Get("n"), &n)
			body := wholePattern(req.URL.Path, n)
			w := bufio.NewWriterSize(c, 64<<10)
			io.WriteString(w, "HTTP/1.1 200 OK\r\n")
			framing := q.Get("f")
			switch framing {
			case "chunked":
				io.WriteString(w, "Transfer-Encoding: chunked\r\n\r\n")
			case "close":
				io.WriteString(w, "Connection: close\r\n\r\n")
			default:
				fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", n)
			}
			write := func(p []byte) {
				if framing != "chunked" {
					w.Write(p)
					return
				}
				for len(p) > 0 {
					k := min(len(p), 3000)
					fmt.Fprintf(w, "%x\r\n", k)
					w.Write(p[:k])
					io.WriteString(w, "\r\n")
					p = p[k:]
				}
			}
			if q.Get("stall") == "1" {
				write(body[:n/2])
				w.Flush()
				io.Copy(io.Discard, br) // until the client gives up
				return
			}
			write(body)
			if framing == "chunked" {
				io.WriteString(w, "0\r\nX-Id: "+req.URL.Path+"\r\n\r\n")
			}
			if w.Flush() != nil || framing == "close" {
				return
			}
		}
	})
}

// interruptedErr reports whether err is one a body may end with when its reader
// closed it, or its context ended, part way.
func interruptedErr(err error) bool {
	return errors.Is(err, ErrBodyClosed) || errors.Is(err, context.Canceled)
}

// TestReviewDirectMixed drives direct-read bodies of every framing from
// several goroutines at once, each ended one of the ways a caller ends a
// body: read to the end in reads of any size, read part way and closed,
// closed from another goroutine while a Read is blocked in the socket,
// cancelled while a Read is blocked, read to its last byte and closed
// before io.EOF, or read through WriteTo. Every byte read is the right
// one, a body cut short says why, and no connection is reused with a
// response unread (the next response on it would be the rest of this
// one, or the server would see garbage for a request). Run under -race:
// the reader, the loop and a closing goroutine share the pipe and the
// parser.
func TestReviewDirectMixed(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := reviewServer(t)
	tr := newTestTransport(t, Options{})
	const workers, each = 4, 24
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			var err error
			for i := range each {
				if err = reviewMixedCase(tr, srv.Addr(), w, i); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func reviewMixedCase(tr *Transport, addr string, w, i int) error {
	framings := []string{"length", "chunked", "close"}
	framing := framings[(w+i)%len(framings)]
	how := i % 6
	n := 96<<10 + (w*7919+i*104729)%(160<<10)
	path := fmt.Sprintf("/w%di%d", w, i)
	want := wholePattern(path, n)
	query := fmt.Sprintf("?n=%d&f=%s", n, framing)
	stall := how == 2 || how == 3
	if stall {
		query += "&stall=1"
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path+query, nil)
	if err != nil {
		return err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("%s%s: %w", path, query, err)
	}
	defer resp.Body.Close()
	check := func(got []byte) error {
		if !bytes.Equal(got, want[:len(got)]) {
			return fmt.Errorf("%s%s: the %d bytes read are not the body's", path, query, len(got))
		}
		return nil
	}
	switch how {
	case 0, 5: // to the end, in reads of varied sizes, or through WriteTo
		var got []byte
		if how == 0 {
			got, err = readAllSized(resp.Body, []int{1000, 8 << 10, 20 << 10, 64 << 10}[i%4])
		} else {
			var b bytes.Buffer
			_, err = resp.Body.(io.WriterTo).WriteTo(&b)
			got = b.Bytes()
		}
		if err != nil || len(got) != n {
			return fmt.Errorf("%s%s: %d of %d bytes, %v", path, query, len(got), n, err)
		}
		if framing == "chunked" && resp.Trailer.Get("X-Id") != path {
			return fmt.Errorf("%s%s: trailer %v", path, query, resp.Trailer)
		}
		return check(got)
	case 1: // part way, then closed
		got := make([]byte, n/3)
		if _, err := io.ReadFull(resp.Body, got); err != nil {
			return fmt.Errorf("%s%s: %v", path, query, err)
		}
		return check(got)
	case 2, 3: // a Read blocked in the socket, ended by Close or by the context
		got := make([]byte, n/2)
		if _, err := io.ReadFull(resp.Body, got); err != nil {
			return fmt.Errorf("%s%s: %v", path, query, err)
		}
		if err := check(got); err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() {
			_, err := resp.Body.Read(make([]byte, 32<<10))
			done <- err
		}()
		if how == 2 {
			resp.Body.Close()
		} else {
			cancel()
		}
		if err := <-done; !interruptedErr(err) {
			return fmt.Errorf("%s%s: a blocked Read ended with %v", path, query, err)
		}
		return nil
	default: // every byte, then closed before io.EOF
		got := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, got); err != nil {
			return fmt.Errorf("%s%s: %v", path, query, err)
		}
		return check(got)
	}
}

// TestReviewDirectSmallRecords: responses written a few bytes at a time,
// so that the head, chunk lines, the trailer and (over TLS) records are
// cut at every kind of place, and the reader takes the socket over in the
// middle of a read the loop was delivering. A body of each framing
// arrives whole with its trailer, the connection is reused after a clean
// response, and not after one followed by bytes nobody asked for: the
// next request gets its own answer.
func TestReviewDirectSmallRecords(t *testing.T) {
	testkit.CheckLeaks(t)
	srvTLS, cliTLS := directTLS(t)
	const n = 80 << 10
	sizes := []byte{0, 3, 17, 1, 250, 9, 40, 2, 120, 5}
	for _, tlsOn := range []bool{false, true} {
		name, scheme := "plain", "http://"
		if tlsOn {
			name, scheme = "tls", "https://"
		}
		t.Run(name, func(t *testing.T) {
			srv := testkit.NewServer(t, func(c net.Conn) {
				if tlsOn {
					c = tls.Server(c, srvTLS)
				}
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body := wholePattern(req.URL.Path, n)
					var out bytes.Buffer
					if strings.HasPrefix(req.URL.Path, "/length") {
						fmt.Fprintf(&out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", n)
						out.Write(body)
					} else {
						out.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
						for p := body; len(p) > 0; {
							k := min(len(p), 1+len(p)%5000)
							fmt.Fprintf(&out, "%x;ext=1\r\n", k)
							out.Write(p[:k])
							out.WriteString("\r\n")
							p = p[k:]
						}
						out.WriteString("0\r\nX-Id: " + req.URL.Path + "\r\n\r\n")
					}
					// The response's last bytes go with the extra ones in one
					// write (one segment, one record), so that the client
					// sees them before it decides on reuse: bytes that come
					// later no client can tell from a next response.
					last := out.Len() - 64
					tail := bytes.Clone(out.Bytes()[last:])
					if strings.HasSuffix(req.URL.Path, "-extra") {
						tail = append(tail, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"...)
					}
					for _, p := range append(testkit.Chunks(out.Bytes()[:last], sizes, 251), tail) {
						if _, err := c.Write(p); err != nil {
							return
						}
					}
				}
			})
			tr := newTestTransport(t, Options{TLSClientConfig: cliTLS})
			get := func(path string) {
				t.Helper()
				resp, err := tr.RoundTrip(ctxRequest(t, context.Background(), scheme+srv.Addr()+path))
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				defer resp.Body.Close()
				got, err := readAllSized(resp.Body, 24<<10)
				if err != nil || !bytes.Equal(got, wholePattern(path, n)) {
					t.Fatalf("%s: %d of %d bytes, %v", path, len(got), n, err)
				}
				if !wentDirect(t, resp.Body) {
					t.Fatalf("%s: the body went through the loop", path)
				}
				if strings.HasPrefix(path, "/chunked") && resp.Trailer.Get("X-Id") != path {
					t.Fatalf("%s: trailer %v", path, resp.Trailer)
				}
			}
			dials := func() int64 { return tr.Stats().Pool.Dials }
			get("/length")
			get("/chunked")
			if d := dials(); d != 1 {
				t.Fatalf("%d dials for two clean responses", d)
			}
			get("/length-extra")
			get("/length")
			if d := dials(); d != 2 {
				t.Fatalf("%d dials: the connection that sent extra bytes was reused", d)
			}
			get("/chunked-extra")
			get("/chunked")
			if d := dials(); d != 3 {
				t.Fatalf("%d dials: the connection that sent extra bytes was reused", d)
			}
		})
	}
}

// TestReviewDirectGzip: a gzip body large enough to be read from the
// socket by its reader is decoded whole, through the small reads
// compress/gzip makes, and once read to its end leaves the connection
// clean for the next request.
func TestReviewDirectGzip(t *testing.T) {
	testkit.CheckLeaks(t)
	plain := make([]byte, 1<<20) // incompressible: the compressed body is as large
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range plain {
		plain[i] = byte(rng.Uint32())
	}
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestSpeed)
	zw.Write(plain)
	zw.Close()
	gz := zb.Bytes()
	if len(gz) < 256<<10 {
		t.Fatalf("the compressed body is only %d bytes: too small to be read directly", len(gz))
	}
	srv := testkit.NewServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", len(gz))
			if _, err := c.Write(gz); err != nil {
				return
			}
		}
	})
	tr := newTestTransport(t, Options{})
	for i := range 2 {
		resp, err := tr.RoundTrip(ctxRequest(t, context.Background(), "http://"+srv.Addr()+"/"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, plain) || !resp.Uncompressed {
			t.Fatalf("request %d: %d of %d bytes, %v, uncompressed %v", i, len(got), len(plain), err, resp.Uncompressed)
		}
		gb, ok := resp.Body.(*gzipBody)
		if !ok {
			t.Fatalf("body is a %T", resp.Body)
		}
		if !wentDirect(t, gb.src) {
			t.Fatal("the body went through the loop")
		}
	}
	if d := tr.Stats().Pool.Dials; d != 1 {
		t.Fatalf("%d dials: the connection was not reused after a gzip body read to its end", d)
	}
}

// sizeRecorder stands between a pipe and its direct source, recording
// how much room each read of the socket was given.
type sizeRecorder struct {
	src   directSource
	sizes []int
}

func (r *sizeRecorder) read(b []byte) (int, bool) {
	r.sizes = append(r.sizes, len(b))
	return r.src.read(b)
}

// TestReviewDirectSmallReadsBuffered: reads shorter than directMinRead
// (io.Copy's 8 KiB, behind a reader that hides WriteTo) go through a
// buffer of directSmallBuf bytes, so that each system call takes up to
// that much: also when the loop had put only a few bytes of the body in
// the pipe before the reader took the socket, whose small buffer must not
// set the size of every read after it.
func TestReviewDirectSmallReadsBuffered(t *testing.T) {
	testkit.CheckLeaks(t)
	const first, size = 1000, 1 << 20
	body := bodyPattern(size)
	more := make(chan struct{})
	srv := testkit.NewServer(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
		c.Write(body[:first])
		<-more
		c.Write(body[first:])
	})
	defer func() {
		select {
		case <-more:
		default:
			close(more)
		}
	}()
	tr := newTestTransport(t, Options{})
	resp, err := tr.RoundTrip(ctxRequest(t, context.Background(), "http://"+srv.Addr()+"/"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := resp.Body.(*bodyPipe)
	buf := make([]byte, 8<<10)
	got := 0
	for got < first {
		n, err := p.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	testkit.WaitFor(t, "the reader's lease", p.directStarted)
	rec := &sizeRecorder{}
	p.mu.Lock()
	rec.src, p.direct = p.direct, rec
	p.mu.Unlock()
	close(more)
	for {
		n, err := p.Read(buf)
		got += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", got, err)
		}
	}
	if got != size {
		t.Fatalf("%d of %d bytes", got, size)
	}
	if len(rec.sizes) == 0 {
		t.Fatal("no read went to the socket")
	}
	for _, s := range rec.sizes {
		if s < directSmallBuf {
			t.Fatalf("a socket read was offered %d bytes (%d reads for %d bytes), want at least %d", s, len(rec.sizes), size-first, directSmallBuf)
		}
	}
}
