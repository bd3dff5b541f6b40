package egress

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// TestResponseBeforeRequestWritten: a server that sends a whole
// keep-alive response before it has read the request, while the client
// is between making its h1conn the connection's handler and writing the
// request. The response is taken (nothing tells it from a quick one) and
// ends the exchange, but the h1conn, whose buffer holds the request, is
// not recycled under the write: another request, to another server,
// would encode its head into that buffer, and the head would go to this
// server. The test sends one meanwhile and checks what this server gets.
func TestResponseBeforeRequestWritten(t *testing.T) {
	testkit.CheckLeaks(t)
	sendEarly := make(chan struct{})
	paths := make(chan string, 8)
	srv := testkit.NewServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for n := 0; ; n++ {
			if n == 1 {
				// The second request's answer goes out before it is read.
				<-sendEarly
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\np2")
			}
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			paths <- req.URL.Path
			if n != 1 {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}
	})
	other := testkit.NewServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	tr := newTestTransport(t, Options{})
	get := func(url string) string {
		t.Helper()
		resp, err := tr.RoundTrip(ctxRequest(t, t.Context(), url))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	base := "http://" + srv.Addr()
	if got := get(base + "/first"); got != "ok" {
		t.Fatalf("first response %q", got)
	}
	if p := <-paths; p != "/first" {
		t.Fatalf("server got %q", p)
	}

	testHookBeforeRequestWrite = func(hc *h1conn) {
		testHookBeforeRequestWrite = nil
		close(sendEarly)
		testkit.WaitFor(t, "the early response to end the exchange", func() bool { return hc.writing.Load() == writeLeft })
		// Another request meanwhile takes an h1conn and writes its head.
		if got := get("http://" + other.Addr() + "/other"); got != "ok" {
			t.Errorf("the other server's response %q", got)
		}
	}
	t.Cleanup(func() { testHookBeforeRequestWrite = nil })
	if got := get(base + "/second"); got != "p2" {
		t.Errorf("second response %q, want the early one", got)
	}
	select {
	case p := <-paths:
		if p != "/second" {
			t.Fatalf("the server answered early got %q, want its own request /second", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second request never reached the server")
	}
	if hc := testHookBeforeRequestWrite; hc != nil {
		t.Fatal("the hook never ran")
	}
}
