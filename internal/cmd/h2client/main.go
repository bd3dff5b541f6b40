// Command h2client is the HTTP/2 client that the conformance suite h2specd
// drives: it GETs the URL given as its last argument with egress.Transport
// over HTTP/2 (h2c with prior knowledge for http://, ALPN h2 for https://),
// reads the whole body, and exits 0 on success and 1 on any error.
//
// h2specd runs it once per test case and gives each case 3 seconds, so the
// request is bounded by a shorter timeout (-timeout, 2 s): a server that
// misbehaves ends the command with an error instead of hanging the suite.
//
// After a good response it keeps the transport up until the server has
// closed the connection (h2specd ends each case with a GOAWAY and a close),
// still within the timeout, as a long-lived client's pool would. Some
// cases check what the client does after the response (a PING sent right
// after the last DATA must be answered), which a process that exits at
// the end of the body would race; and h2specd takes a closed connection
// for the error it expects, so a client that exited at once would pass
// cases (DATA after END_STREAM must draw a GOAWAY) without answering
// them.
//
// It exists for the test in this package; it is not a general tool (see
// cmd/egress for that).
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/egress-go/egress"
)

func main() {
	timeout := flag.Duration("timeout", 2*time.Second, "bound on the whole request, body included")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: h2client [-timeout d] URL")
		os.Exit(2)
	}
	if err := get(flag.Arg(flag.NArg()-1), time.Now().Add(*timeout)); err != nil {
		fmt.Fprintln(os.Stderr, "h2client:", err)
		os.Exit(1)
	}
}

// get fetches url over HTTP/2, reads its body to the end, then waits for
// the connection to close, all before deadline.
func get(url string, deadline time.Time) error {
	t, err := egress.NewTransport(egress.Options{
		HTTP2: egress.HTTP2Options{PriorKnowledge: true},
		// h2specd serves TLS with a self-signed certificate of its own;
		// this conformance client therefore does not verify it. Never do
		// this outside a test against a known local peer.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	})
	if err != nil {
		return err
	}
	defer t.Close()

	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := t.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		return fmt.Errorf("spoke %s, not HTTP/2", resp.Proto)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return fmt.Errorf("after %d body bytes: %w", n, err)
	}
	fmt.Printf("%s %d bytes\n", resp.Status, n)
	// Linger: the transport's loops keep answering the server (PING,
	// SETTINGS, GOAWAY) until it closes the connection. Bounded by the
	// deadline; a server that never closes is not an error here.
	for t.Stats().Pool.Open > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}
