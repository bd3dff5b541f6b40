package egress

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/pool"
)

// TestHandoffRetriedOnAnotherLoop: a RoundTrip waiting for a connection
// is handed one that dies before it takes it, and gets an idle one on
// another loop instead (pool.request.acceptAsync's retry). Its small
// response comes whole, so its state is recycled, and the next request of
// the same goroutine, a streamed upload, reuses it. Both succeed, with
// nothing racing (run with -race): the callback runs on the new
// connection's loop, and attachH1 touches nothing of a round trip that
// may have ended once its head is written.
func TestHandoffRetriedOnAnotherLoop(t *testing.T) {
	testkit.CheckLeaks(t)
	eng, err := engine.New(engine.Config{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	pc := pool.DefaultConfig()
	pc.MaxTotalPerKey = 2
	tr := newTestTransport(t, Options{Engine: eng, Pool: &pc, DisableCompression: true})

	got := make(chan string, 16)
	releaseR1, releaseR2 := make(chan struct{}), make(chan struct{})
	r1Closed := make(chan struct{})
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	srv := testkit.NewServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			got <- req.URL.Path
			switch req.URL.Path {
			case "/r1":
				<-releaseR1
				io.WriteString(c, resp)
				c.Close() // FIN right after a keep-alive response
				close(r1Closed)
				return
			case "/r2":
				<-releaseR2
			}
			io.WriteString(c, resp)
		}
	})
	base := "http://" + srv.Addr()

	// R1 on conn A (loop 0, the first dial), through the Exchange API, whose
	// OnDone runs on A's loop after A went back to the pool.
	r1Done := make(chan error, 1)
	ex := &Exchange{URL: base + "/r1", OnDone: func(ex *Exchange, err error) {
		// A has been handed to R3 (acceptAsync is posted behind us). Let
		// R2 finish on the other loop so that B goes idle meanwhile.
		close(releaseR2)
		testkit.WaitFor(t, "B idle", func() bool { return tr.pool.Stats().Idle == 1 })
		r1Done <- err
	}}
	if err := tr.Send(ex); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != "/r1" {
		t.Fatal(p)
	}
	// R2 on conn B (loop 1).
	loopBc := make(chan *engine.Loop, 1)
	r2Done := make(chan error, 1)
	go func() {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			loopBc <- i.Conn.(traceConn).c.Loop()
		}})
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/r2", nil)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		r2Done <- err
	}()
	if p := <-got; p != "/r2" {
		t.Fatal(p)
	}
	loopA, loopB := eng.Loop(0), <-loopBc
	if loopB == loopA {
		t.Fatal("A and B on the same loop")
	}
	// R3, the victim, waits for a connection; then it sends a streamed
	// request with the same (recycled) round trip.
	r3Done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/r3", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			r3Done <- err
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		req, _ = http.NewRequest("POST", base+"/r4", io.MultiReader(strings.NewReader("upload")))
		resp, err = tr.RoundTrip(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		r3Done <- err
	}()
	testkit.WaitFor(t, "R3 queued", func() bool { return tr.pool.Stats().Waiting == 1 })

	// Hold A's loop while the server sends R1's response and its FIN, so
	// that the loop reads both in one pass: the close is seen before the
	// posted acceptAsync runs.
	blocked, unblock := make(chan struct{}), make(chan struct{})
	loopA.Post(func() { close(blocked); <-unblock })
	<-blocked
	close(releaseR1)
	<-r1Closed
	close(unblock)

	for i, ch := range []chan error{r1Done, r2Done, r3Done} {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("request %d: %v", i+1, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("request %d: timed out", i+1)
		}
	}
	if st := tr.pool.Stats(); st.Dials != 2 || st.Waits != 1 {
		t.Errorf("pool %+v: want 2 dials and 1 wait (R3 served by B, not a new connection)", st)
	}
}
