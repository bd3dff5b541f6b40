package target

import (
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// TestAddrInUse: a server refuses an address where another socket
// listens, whether that socket is another target (whose SO_REUSEPORT
// sockets would otherwise let it in) or a plain listener, on either
// backend; with ReusePort it shares the port with a server that allows
// it.
func TestAddrInUse(t *testing.T) {
	first := start(t, Config{})
	addr := first.Addr().String()
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, be := range backends {
		for _, busy := range []string{addr, plain.Addr().String()} {
			s, err := Start(Config{Addr: busy, Loops: 2, Backend: be})
			if err == nil {
				s.Close()
				t.Fatalf("%v: a second server started on %s", be, busy)
			}
			if !errors.Is(err, ErrAddrInUse) {
				t.Errorf("%v on %s: %v, want ErrAddrInUse", be, busy, err)
			}
		}
	}

	// Asked for, the port is shared: the kernel hands each new connection
	// to one of the two servers.
	second, err := Start(Config{Addr: addr, Loops: 2, ReusePort: true})
	if err != nil {
		t.Fatalf("ReusePort: %v", err)
	}
	defer second.Close()
	if second.Addr().String() != addr {
		t.Fatalf("second server on %v, want %s", second.Addr(), addr)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	const n = 8
	for i := 0; i < n; i++ {
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(first.URL() + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// A server counts a request just after queueing its last bytes, so the
	// count may trail the client by a moment.
	testkit.WaitFor(t, "both servers' counts to add up to the requests", func() bool {
		return first.Stats().Requests+second.Stats().Requests == n
	})

	if _, err := Start(Config{HTTP2: H2C, ReusePort: true}); err == nil {
		t.Error("ReusePort with an HTTP/2 mode was accepted")
	}
}
