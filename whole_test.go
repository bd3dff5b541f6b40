package egress

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/pool"
)

// wholeServer answers /ID?n=N with N bytes that spell ID over and over.
// With split=1 it sends the head and most of the body first and the rest
// a moment later, so that the body cannot come whole with its head; with
// gz=1 it sends the body gzip-encoded. A request body is read to its end.
func wholeServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		body := wholePattern(r.URL.Path, n)
		if r.URL.Query().Get("gz") == "1" {
			var zb bytes.Buffer
			zw := gzip.NewWriter(&zb)
			zw.Write(body)
			zw.Close()
			body = zb.Bytes()
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if r.URL.Query().Get("split") == "1" && len(body) > 1 {
			w.Write(body[:len(body)-1])
			w.(http.Flusher).Flush()
			time.Sleep(2 * time.Millisecond)
			body = body[len(body)-1:]
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func wholePattern(id string, n int) []byte {
	return bytes.Repeat([]byte(id), n/len(id)+1)[:n]
}

// TestWholeBody: a small body that comes with its head is handed over
// complete, in a reader of its own (not the pipe), and reads like any
// other body: in pieces of any size, through WriteTo, decoded when the
// Transport asked for gzip, ErrBodyClosed after Close. One that does not
// come whole still goes through the pipe.
func TestWholeBody(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := wholeServer(t)
	client := &http.Client{Transport: newTestTransport(t, Options{})}
	get := func(t *testing.T, query string) *http.Response {
		t.Helper()
		resp, err := client.Get(srv.URL + "/abc?" + query)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	const n = 1000
	want := wholePattern("/abc", n)

	t.Run("ByteByByte", func(t *testing.T) {
		resp := get(t, "n=1000")
		if _, ok := resp.Body.(*wholeBody); !ok {
			t.Fatalf("body is a %T, want the whole body's reader", resp.Body)
		}
		if resp.ContentLength != n {
			t.Errorf("ContentLength = %d", resp.ContentLength)
		}
		var got []byte
		b := make([]byte, 1)
		for {
			k, err := resp.Body.Read(b)
			got = append(got, b[:k]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("read %q", got)
		}
		if k, err := resp.Body.Read(b); k != 0 || err != io.EOF {
			t.Errorf("read after the end: %d, %v", k, err)
		}
	})
	t.Run("WriteTo", func(t *testing.T) {
		resp := get(t, "n=1000")
		var buf bytes.Buffer
		if k, err := io.Copy(&buf, resp.Body); k != n || err != nil || !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("io.Copy: %d, %v", k, err)
		}
	})
	t.Run("Closed", func(t *testing.T) {
		resp := get(t, "n=1000")
		b := make([]byte, 10)
		if _, err := resp.Body.Read(b); err != nil {
			t.Fatal(err)
		}
		if err := resp.Body.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := resp.Body.Read(b); !errors.Is(err, ErrBodyClosed) {
			t.Errorf("Read after Close: %v", err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); !errors.Is(err, ErrBodyClosed) {
			t.Errorf("WriteTo after Close: %v", err)
		}
		if err := resp.Body.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	t.Run("CloseWhileReading", func(t *testing.T) {
		// Close from another goroutine races with nothing (run with -race).
		resp := get(t, "n=1000")
		done := make(chan struct{})
		go func() {
			defer close(done)
			b := make([]byte, 7)
			for {
				if _, err := resp.Body.Read(b); err != nil {
					return
				}
			}
		}()
		resp.Body.Close()
		<-done
	})
	t.Run("Gzip", func(t *testing.T) {
		resp := get(t, "n=1000&gz=1")
		if !resp.Uncompressed || resp.ContentLength != -1 || resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("Uncompressed %v, ContentLength %d, Content-Encoding %q", resp.Uncompressed, resp.ContentLength, resp.Header.Get("Content-Encoding"))
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%v: %q", err, got)
		}
	})
	t.Run("Split", func(t *testing.T) {
		resp := get(t, "n=1000&split=1")
		if _, ok := resp.Body.(*bodyPipe); !ok {
			t.Fatalf("body is a %T, want the pipe", resp.Body)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%v: %q", err, got)
		}
	})
	t.Run("Large", func(t *testing.T) {
		resp := get(t, "n="+strconv.Itoa(wholeBodyMax+1))
		if _, ok := resp.Body.(*bodyPipe); !ok {
			t.Fatalf("body is a %T, want the pipe", resp.Body)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(got, wholePattern("/abc", wholeBodyMax+1)) {
			t.Fatalf("%v: %d bytes", err, len(got))
		}
	})
}

// TestRecycledRoundTrips: round trips whose state is recycled (small
// bodies that came whole) mixed with ones that keep it (bodies through
// the pipe, request bodies pumped by the caller, contexts that end at any
// moment, bodies closed unread), from several goroutines at once: every
// response is the one asked for, whole, and nothing races (run with
// -race) or leaks.
func TestRecycledRoundTrips(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := wholeServer(t)
	pc := pool.DefaultConfig()
	pc.MaxTotalPerKey = 4 // requests wait for connections too
	client := &http.Client{Transport: newTestTransport(t, Options{Pool: &pc})}
	const workers, each = 8, 150
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range each {
				if err := recycledCase(client, srv.URL, rng, fmt.Sprintf("/w%di%d", w, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// recycledCase sends one request of a random kind to path and checks
// what comes back.
func recycledCase(client *http.Client, base string, rng *rand.Rand, path string) error {
	sizes := []int{1, 13, 700, 4000, wholeBodyMax, wholeBodyMax + 1}
	n := sizes[rng.IntN(len(sizes))]
	query := "?n=" + strconv.Itoa(n)
	if rng.IntN(4) == 0 {
		query += "&split=1"
	}
	ctx := context.Background()
	timed := rng.IntN(4) == 0
	if timed {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(400))*time.Microsecond)
		defer cancel()
	}
	var body io.Reader
	if rng.IntN(5) == 0 {
		body = io.MultiReader(strings.NewReader("upload")) // no known length: pumped by the caller
	}
	req, err := http.NewRequestWithContext(ctx, "POST", base+path+query, body)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		if timed && errors.Is(err, context.DeadlineExceeded) {
			return nil
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	defer resp.Body.Close()
	if rng.IntN(6) == 0 {
		return nil // closed unread
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		if timed && errors.Is(err, context.DeadlineExceeded) {
			return nil
		}
		return fmt.Errorf("%s: reading the body: %w", path, err)
	}
	if want := wholePattern(path, n); !bytes.Equal(got, want) {
		return fmt.Errorf("%s: got %d bytes %.40q, want %d bytes %.40q", path, len(got), got, len(want), want)
	}
	return nil
}
