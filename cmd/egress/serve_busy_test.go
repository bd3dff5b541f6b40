package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// TestServeBusyPort: serve refuses an address where another server
// listens, another serve or any other listener, with one error line and
// exit 1, instead of sharing the port through SO_REUSEPORT; with
// --reuseport on its side it shares the port with a serve that allows it.
func TestServeBusyPort(t *testing.T) {
	testkit.CheckLeaks(t)
	url, _ := startServe(t, "--loops", "2")
	busy := strings.TrimPrefix(url, "http://")
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, args := range [][]string{
		{"--addr", busy},
		{"--addr", plain.Addr().String()},
		{"--addr", plain.Addr().String(), "--reuseport"}, // the plain one did not ask
		{"--addr", busy, "--http2-prior-knowledge"},
	} {
		// A serve that started would run until the context ends: the
		// bound only keeps a failing test short.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out, errb syncBuffer
		code := run(ctx, append([]string{"serve"}, args...), &out, &errb)
		cancel()
		if code != 1 || !strings.Contains(errb.String(), "in use") {
			t.Errorf("serve %v: exit %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
			continue
		}
		oneLineError(t, errb.String())
		if out.String() != "" {
			t.Errorf("serve %v printed %q", args, out.String())
		}
	}

	// Asked for, sharing works: a second serve with --reuseport starts on
	// the first one's port and answers there.
	shared, stop := startServe(t, "--addr", busy, "--reuseport", "--loops", "2")
	if shared != url {
		t.Fatalf("the second serve listens on %s, want %s", shared, url)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(url + "/status/204")
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	stop()

	if _, errOut, code := cli(t, "serve", "--addr", "127.0.0.1:0", "--reuseport", "--http2-prior-knowledge"); code != 2 || !strings.Contains(errOut, "--reuseport applies to the HTTP/1.1 server") {
		t.Errorf("--reuseport with h2c: exit %d %q", code, errOut)
	}
	if _, errOut, code := cli(t, "serve", "--addr", "127.0.0.1:0", "--reuseport", "--loops", "1"); code != 2 || !strings.Contains(errOut, "two loops or more") {
		t.Errorf("--reuseport with one loop: exit %d %q", code, errOut)
	}
}
