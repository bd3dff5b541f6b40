package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

func TestExchangeCallbacks(t *testing.T) {
	testkit.CheckLeaks(t)
	// The first response waits until the test has seen that Send refuses
	// an Exchange in flight: on a loaded machine the whole exchange could
	// otherwise end before the second Send.
	release := make(chan struct{})
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/x" {
			<-release
		}
		w.Header().Set("X-Got", r.Header.Get("X-Send"))
		w.WriteHeader(202)
		fmt.Fprintf(w, "%s %d", r.Method, r.ContentLength)
	}))
	tr := newTestTransport(t, Options{})
	type result struct {
		status int
		hdr    string
		body   string
		err    error
	}
	done := make(chan result, 1)
	var r result
	ex := &Exchange{
		Method: "PUT",
		URL:    srv.URL + "/x",
		Header: []HeaderField{{Name: "X-Send", Value: "v1"}},
		Body:   []byte("12345"),
		OnHead: func(ex *Exchange) { r.status, r.hdr = ex.StatusCode(), string(ex.HeaderValue("X-Got")) },
		OnBody: func(ex *Exchange, p []byte) { r.body += string(p) },
		OnDone: func(ex *Exchange, err error) { r.err = err; done <- r },
	}
	if err := tr.Send(ex); err != nil {
		t.Fatal(err)
	}
	err := tr.Send(ex)
	close(release)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("second Send while in flight: %v", err)
	}
	got := <-done
	if got.err != nil || got.status != 202 || got.hdr != "v1" || got.body != "PUT 5" {
		t.Fatalf("%+v", got)
	}
	// Re-sent from OnDone, as a load generator does.
	var n atomic.Int32
	finished := make(chan error, 1)
	ex2 := &Exchange{URL: srv.URL}
	ex2.OnDone = func(ex *Exchange, err error) {
		if err != nil || n.Add(1) == 50 {
			finished <- err
			return
		}
		if err := tr.Send(ex); err != nil {
			finished <- err
		}
	}
	tr.Send(ex2)
	if err := <-finished; err != nil || n.Load() != 50 {
		t.Fatalf("chain stopped at %d: %v", n.Load(), err)
	}
	if !ex2.Reused() {
		t.Fatal("chained exchanges did not reuse the connection")
	}
}

// TestExchangeChangedBetweenSends checks that an Exchange sent again after
// a change sends the changed request, although the head of the last send
// is kept: each change below must reach the server, a Header changed in
// place included.
func TestExchangeChangedBetweenSends(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %s %q", r.Method, r.Host, r.URL.Path, r.Header.Get("X-A"), body)
	}))
	tr := newTestTransport(t, Options{})
	var got string
	done := make(chan error, 1)
	ex := &Exchange{
		URL:    srv.URL + "/a",
		Header: []HeaderField{{Name: "X-A", Value: "1"}},
		OnBody: func(_ *Exchange, p []byte) { got += string(p) },
		OnDone: func(_ *Exchange, err error) { done <- err },
	}
	host := srv.URL[len("http://"):]
	for _, step := range []struct {
		change func()
		want   string
	}{
		{func() {}, "GET " + host + " /a 1 \"\""},
		{func() {}, "GET " + host + " /a 1 \"\""},
		{func() { ex.Header[0].Value = "2" }, "GET " + host + " /a 2 \"\""},
		{func() { ex.Header = append(ex.Header, HeaderField{Name: "X-B", Value: "x"}) }, "GET " + host + " /a 2 \"\""},
		{func() { ex.Header = nil }, "GET " + host + " /a  \"\""},
		{func() { ex.Method, ex.Body = "POST", []byte("abc") }, "POST " + host + " /a  \"abc\""},
		{func() { ex.Body = []byte("xyz") }, "POST " + host + " /a  \"xyz\""},
		{func() { ex.Body = []byte("longer") }, "POST " + host + " /a  \"longer\""},
		{func() { ex.Host = "example.com" }, "POST example.com /a  \"longer\""},
		{func() { ex.URL = srv.URL + "/b"; ex.Host = "" }, "POST " + host + " /b  \"longer\""},
		{func() { ex.Method, ex.Body = "", nil }, "GET " + host + " /b  \"\""},
	} {
		step.change()
		got = ""
		if err := tr.Send(ex); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got != step.want {
			t.Fatalf("got %q, want %q", got, step.want)
		}
	}
}

func TestExchangePauseResume(t *testing.T) {
	testkit.CheckLeaks(t)
	const size = 8 << 20
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write(make([]byte, size))
	}))
	tr := newTestTransport(t, Options{})
	var got atomic.Int64
	done := make(chan error, 1)
	ex := &Exchange{URL: srv.URL}
	ex.OnBody = func(ex *Exchange, p []byte) {
		if got.Add(int64(len(p))) > 1<<20 {
			ex.Pause()
		}
	}
	ex.OnDone = func(_ *Exchange, err error) { done <- err }
	tr.Send(ex)
	deadline := time.Now().Add(5 * time.Second)
	for got.Load() <= 1<<20 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// The callback that paused has returned once every loop has run a
	// task posted now; from then on nothing may be delivered.
	for i := 0; i < tr.Engine().NumLoops(); i++ {
		ran := make(chan struct{})
		tr.Engine().Loop(i).Post(func() { close(ran) })
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Fatalf("loop %d did not run a task within 10 s", i)
		}
	}
	held := got.Load()
	time.Sleep(100 * time.Millisecond)
	if got.Load() != held || held >= size {
		t.Fatalf("paused exchange kept reading: %d -> %d", held, got.Load())
	}
	for got.Load() < size && time.Now().Before(deadline.Add(10*time.Second)) {
		ex.Resume()
		time.Sleep(time.Millisecond)
	}
	if err := <-done; err != nil || got.Load() != size {
		t.Fatalf("got %d: %v", got.Load(), err)
	}
}

func TestExchangeErrors(t *testing.T) {
	testkit.CheckLeaks(t)
	tr := newTestTransport(t, Options{})
	if err := tr.Send(&Exchange{URL: "ftp://x/"}); !errors.Is(err, ErrUnsupportedScheme) {
		t.Fatalf("ftp: %v", err)
	}
	if err := tr.Send(&Exchange{URL: "http://[::1"}); err == nil {
		t.Fatal("bad URL accepted")
	}
	// Cancelled while waiting for a response.
	release := make(chan struct{})
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	tr.Send(&Exchange{URL: srv.URL, Context: ctx, OnDone: func(_ *Exchange, err error) { done <- err }})
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	tr.Close()
	if err := tr.Send(&Exchange{URL: srv.URL}); !errors.Is(err, ErrTransportClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestExchangeRetriesStaleConnection(t *testing.T) {
	testkit.CheckLeaks(t)
	addr, conns := staleServer(t)
	tr := newTestTransport(t, Options{})
	done := make(chan error, 1)
	ex := &Exchange{URL: "http://" + addr + "/", OnDone: func(_ *Exchange, err error) { done <- err }}
	for i := 0; i < 3; i++ {
		tr.Send(ex)
		if err := <-done; err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
	}
	if s := tr.Stats(); s.Retries != 2 || conns.Load() != 3 {
		t.Fatalf("retries %d conns %d", s.Retries, conns.Load())
	}
}

func TestExchangeHostOverride(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Host) }))
	tr := newTestTransport(t, Options{})
	var body string
	done := make(chan error, 1)
	ex := &Exchange{URL: srv.URL, Host: "api.example.test",
		OnBody: func(_ *Exchange, p []byte) { body += string(p) },
		OnDone: func(_ *Exchange, err error) { done <- err }}
	tr.Send(ex)
	if err := <-done; err != nil || body != "api.example.test" {
		t.Fatalf("host %q, %v", body, err)
	}
	body, ex.Host = "", ""
	tr.Send(ex)
	if err := <-done; err != nil || body != srv.Listener.Addr().String() {
		t.Fatalf("host %q, %v", body, err)
	}
}
