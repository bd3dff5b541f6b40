package egress

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/tlsconn"
)

// h2Compacted reports, from the connection's loop, whether the
// transport's only HTTP/2 connection has given back what it keeps between
// streams, and checks that crypto/tls's input buffers are kept until then
// and released then.
func h2Compacted(t *testing.T, tr *Transport) bool {
	t.Helper()
	tr.h2mu.Lock()
	var h *h2conn
	for c := range tr.h2conns {
		h = c
	}
	n := len(tr.h2conns)
	tr.h2mu.Unlock()
	if n != 1 {
		t.Fatalf("%d HTTP/2 connections, want 1", n)
	}
	type state struct {
		compacted bool
		tlsBytes  int
	}
	got := make(chan state, 1)
	if !h.c.Loop().Post(func() { got <- state{h.compacted, tlsconn.BufferBytes(h.c)} }) {
		t.Fatal("the connection's loop is gone")
	}
	st := <-got
	if st.compacted != (st.tlsBytes == 0) {
		t.Fatalf("compacted %v, crypto/tls keeps %d bytes of input buffers", st.compacted, st.tlsBytes)
	}
	return st.compacted
}

// TestH2IdleConnCompacted: an HTTP/2 connection over TLS with no stream
// open for h2CompactAfter gives back its HPACK encoder and tables and
// crypto/tls's input buffers; the next request on it goes out with a new
// encoder, which Go's server accepts, and the connection is in use again.
func TestH2IdleConnCompacted(t *testing.T) {
	testkit.CheckLeaks(t)
	s, cfg := newH2TLSServer(t, h2Handler())
	tr := newTestTransport(t, Options{TLSClientConfig: cfg})
	client := &http.Client{Transport: tr}
	get := func() {
		t.Helper()
		resp, err := client.Get(s.URL + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "Hello, world!" || resp.ProtoMajor != 2 {
			t.Fatalf("body %q, %v, proto %q", body, err, resp.Proto)
		}
	}
	waitCompacted := func() {
		t.Helper()
		for deadline := time.Now().Add(h2CompactAfter + 10*time.Second); !h2Compacted(t, tr); {
			if time.Now().After(deadline) {
				t.Fatalf("the connection kept its memory for %v with no stream open", h2CompactAfter+10*time.Second)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	get()
	get()
	waitCompacted()
	get()
	if h2Compacted(t, tr) {
		t.Fatal("still marked compacted after a request")
	}
	waitCompacted()
	get()
	if st := tr.Stats().Pool; st.Dials != 1 || st.Multiplexed != 1 {
		t.Fatalf("%d dials, %d multiplexed connections; want one connection for all", st.Dials, st.Multiplexed)
	}
}
