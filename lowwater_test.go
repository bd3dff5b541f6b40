package egress

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// exchangeGet runs one GET through the Exchange API, whose bodies the
// loop reads (and for which the read low-water mark is set).
func exchangeGet(t *testing.T, tr *Transport, url string) ([]byte, error) {
	t.Helper()
	done := make(chan error, 1)
	var got []byte
	ex := &Exchange{
		URL:    url,
		OnBody: func(_ *Exchange, p []byte) { got = append(got, p...) },
		OnDone: func(_ *Exchange, err error) { done <- err },
	}
	if err := tr.Send(ex); err != nil {
		return nil, err
	}
	select {
	case err := <-done:
		return got, err
	case <-time.After(20 * time.Second):
		t.Fatalf("GET %s did not end within 20 s", url)
		return nil, nil
	}
}

// clientGet runs one GET through http.Client, whose body's reader reads
// the socket itself in pieces of 64 KiB (bodyPipe.WriteTo) with no mark
// (one made it slower: it waited for 64 KiB where the loop's short spin
// had handed it less, sooner): the tests check that the two paths agree.
func clientGet(t *testing.T, tr *Transport, url string) ([]byte, error) {
	t.Helper()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = io.Copy(&b, resp.Body)
	return b.Bytes(), err
}

// getters are the two ways a body is read: by the loop, by its reader.
var getters = []struct {
	name string
	get  func(*testing.T, *Transport, string) ([]byte, error)
}{{"Exchange", exchangeGet}, {"Client", clientGet}}

// countConns counts the connections a test server accepts.
func countConns(s *httptest.Server) *atomic.Int64 {
	n := &atomic.Int64{}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	return n
}

// TestLowWater: a large body of known length that the loop reads under
// a low-water mark (the Exchange API) arrives whole and in order, plain
// and over TLS,
// whatever the size of the server's writes; the connection then carries
// a small response, which a mark left set would hold back. The same
// through http.Client, whose reader reads the socket itself.
func TestLowWater(t *testing.T) {
	testkit.CheckLeaks(t)
	body := make([]byte, 1<<20+7)
	for i := range body {
		body[i] = byte(i * 7 % 251)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			io.WriteString(w, "small")
			return
		}
		piece, _ := strconv.Atoi(r.URL.Query().Get("piece"))
		pause, _ := time.ParseDuration(r.URL.Query().Get("pause"))
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		for off := 0; off < len(body); off += piece {
			if off > 0 && pause > 0 {
				time.Sleep(pause)
			}
			if _, err := w.Write(body[off:min(off+piece, len(body))]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	for _, g := range getters {
		for _, secure := range []bool{false, true} {
			name := g.name + "/plain"
			if secure {
				name = g.name + "/TLS"
			}
			t.Run(name, func(t *testing.T) {
				srv := httptest.NewUnstartedServer(h)
				conns := countConns(srv)
				var opts Options
				if secure {
					srv.StartTLS()
					opts.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
				} else {
					srv.Start()
				}
				defer srv.Close()
				tr := newTestTransport(t, opts)
				for _, piece := range []string{"1000", "16384", "102400", "2097152",
					// Pieces apart: each is read before the next comes, and
					// the last, 148 KiB, is less than the 256 KiB mark the
					// first ones were read under: a mark not lowered for the
					// tail would never see it (nothing here times the body
					// out: the test's 20 s would).
					"307200&pause=50ms"} {
					got, err := g.get(t, tr, srv.URL+"/big?piece="+piece)
					if err != nil {
						t.Fatalf("pieces of %s: %v", piece, err)
					}
					if !bytes.Equal(got, body) {
						t.Fatalf("pieces of %s: %d bytes, want the %d sent", piece, len(got), len(body))
					}
					got, err = g.get(t, tr, srv.URL+"/small")
					if err != nil || string(got) != "small" {
						t.Fatalf("small response after pieces of %s: %q, %v", piece, got, err)
					}
				}
				if n := conns.Load(); n != 1 {
					t.Fatalf("%d connections, want one carrying every response", n)
				}
			})
		}
	}
}

// TestLowWaterBodyIdle: the body idle timeout tells a body that
// trickles in below the mark (bytes queued, no read) from one that
// stopped.
func TestLowWaterBodyIdle(t *testing.T) {
	testkit.CheckLeaks(t)
	const size = 1 << 20
	stop := make(chan struct{})
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		first := make([]byte, 200<<10)
		w.Write(first)
		w.(http.Flusher).Flush()
		sent := len(first)
		if r.URL.Path == "/stalls" {
			<-stop
			return
		}
		// 1 KiB every 10 ms for 600 ms: never a mark's worth within the
		// idle timeout, never idle for as long.
		for i := 0; i < 60; i++ {
			time.Sleep(10 * time.Millisecond)
			w.Write(make([]byte, 1<<10))
			w.(http.Flusher).Flush()
			sent += 1 << 10
		}
		w.Write(make([]byte, size-sent))
	}))
	defer close(stop)
	for _, g := range getters {
		t.Run(g.name, func(t *testing.T) {
			tr := newTestTransport(t, Options{BodyIdleTimeout: 150 * time.Millisecond})
			got, err := g.get(t, tr, srv.URL+"/trickles")
			if err != nil || len(got) != size {
				t.Fatalf("a body trickling in: %d bytes, %v; want %d and no error", len(got), err, size)
			}
			start := time.Now()
			_, err = g.get(t, tr, srv.URL+"/stalls")
			if !errors.Is(err, ErrBodyIdleTimeout) {
				t.Fatalf("a body that stopped: %v, want ErrBodyIdleTimeout", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("a body that stopped failed after %v, with a body idle timeout of 150 ms", d)
			}
		})
	}
}
