package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

// TestReviewDrainedAfterRecycle: a body read through the pipe (the
// portable backend lends no socket) with a small window, so that the
// connection pauses and the reader's drains post h1conn.drained to the
// loop, while contexts end the exchanges at random moments. A drained
// posted just before the exchange ends runs after its h1conn went back
// to h1conns, and reads hc.x and hc.paused while another request, maybe
// on another loop, is writing them (run with -race).
// h1conn.drained returns unless x.conn == carrier(hc), as exchange.abort
// checks before it calls its carrier (x.conn is the flow's loop's to
// read, and a round trip with a pipe is never recycled). Without that
// check the test failed 7 runs of 12.
func TestReviewDrainedAfterRecycle(t *testing.T) {
	testkit.CheckLeaks(t)
	e, err := engine.New(engine.Config{Loops: 2, Backend: engine.BackendNet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	srv := reviewServer(t)
	tr := newTestTransport(t, Options{Engine: e, BodyWindow: 1 << 10})
	const workers, each = 6, 40
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			var err error
			for i := range each {
				n := 48<<10 + rng.IntN(16<<10)
				path := fmt.Sprintf("/w%di%d", w, i)
				ctx, cancel := context.WithCancel(context.Background())
				req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+srv.Addr()+path+fmt.Sprintf("?n=%d", n), nil)
				resp, rerr := tr.RoundTrip(req)
				if rerr != nil {
					cancel()
					err = rerr
					break
				}
				tm := time.AfterFunc(time.Duration(rng.IntN(300))*time.Microsecond, cancel)
				got, rerr := readAllSized(resp.Body, 700)
				resp.Body.Close()
				tm.Stop()
				cancel()
				if rerr != nil && !errors.Is(rerr, context.Canceled) {
					err = fmt.Errorf("%s: %w", path, rerr)
					break
				}
				if want := wholePattern(path, n); len(got) > n || string(got) != string(want[:len(got)]) {
					err = fmt.Errorf("%s: wrong bytes", path)
					break
				}
			}
			errs <- err
		}()
	}
	for range workers {
		if err := <-errs; err != nil && !errors.Is(err, io.EOF) {
			t.Error(err)
		}
	}
}
