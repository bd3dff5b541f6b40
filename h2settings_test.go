package egress

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// TestHTTP2Settings checks that the transport reports the SETTINGS the
// server sent on its open HTTP/2 connection, and none before it has one.
func TestHTTP2Settings(t *testing.T) {
	testkit.CheckLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		Protocols: new(http.Protocols),
		HTTP2:     &http.HTTP2Config{MaxConcurrentStreams: 37, MaxReadFrameSize: 1 << 20},
	}
	srv.Protocols.SetUnencryptedHTTP2(true)
	served := make(chan struct{})
	go func() { srv.Serve(ln); close(served) }()
	t.Cleanup(func() { srv.Close(); <-served })

	tr := newTestTransport(t, Options{HTTP2: HTTP2Options{PriorKnowledge: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s := tr.HTTP2Settings(ctx); len(s) != 0 {
		t.Fatalf("settings before any connection: %+v", s)
	}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("response over %s", resp.Proto)
	}
	s := tr.HTTP2Settings(ctx)
	if len(s) != 1 {
		t.Fatalf("%d connections' settings, want 1: %+v", len(s), s)
	}
	if s[0].MaxConcurrentStreams != 37 || s[0].MaxFrameSize != 1<<20 {
		t.Errorf("settings %+v, want MaxConcurrentStreams 37 and MaxFrameSize %d as the server sent", s[0], 1<<20)
	}
}
