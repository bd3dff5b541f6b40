package egress

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// rawServer runs serve for every connection of a loopback TCP server, for
// responses net/http's server would not send; conns counts the
// connections served.
func rawServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) (addr string, conns *atomic.Int64) {
	conns = &atomic.Int64{}
	srv := testkit.NewServer(t, func(c net.Conn) {
		conns.Add(1)
		serve(c, bufio.NewReader(c))
	})
	return srv.Addr(), conns
}

// readHead reads one request head (and no body).
func readHead(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return b.String(), err
		}
		b.WriteString(line)
		if line == "\r\n" {
			return b.String(), nil
		}
	}
}

func TestCloseDelimitedAndConnectionClose(t *testing.T) {
	testkit.CheckLeaks(t)
	addr, conns := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			head, err := readHead(br)
			if err != nil {
				return
			}
			switch {
			case strings.Contains(head, "/http10"):
				io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
				return // the body ends when the connection does
			case strings.Contains(head, "/close"):
				io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye")
				return
			default:
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}
	})
	tr := newTestTransport(t, Options{})
	client := &http.Client{Transport: tr}
	for _, tc := range []struct{ path, want string }{{"/http10", "until the end"}, {"/close", "bye"}, {"/keep", "ok"}, {"/keep", "ok"}} {
		resp, err := client.Get("http://" + addr + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != tc.want {
			t.Fatalf("%s: %q %v", tc.path, b, err)
		}
	}
	// /http10 and /close each ended their connection; the two /keep
	// requests shared the third.
	if conns.Load() != 3 {
		t.Fatalf("%d connections, want 3", conns.Load())
	}
}

func TestBodyIdleTimeout(t *testing.T) {
	testkit.CheckLeaks(t)
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		readHead(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part")
		io.Copy(io.Discard, br) // then nothing, until the client gives up
	})
	const idle = 100 * time.Millisecond
	tr := newTestTransport(t, Options{BodyIdleTimeout: idle})
	// The context only bounds the test should the timer never fire.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://"+addr+"/").WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, ErrBodyIdleTimeout) || string(b) != "first part" {
		t.Fatalf("read %q, err %v", b, err)
	}
	// The last byte came after start, so the timeout cannot end the body
	// sooner than this.
	if d := time.Since(start); d < idle {
		t.Fatalf("body idle timeout after %v, before its %v", d, idle)
	}
}

func TestExpectContinueTimeoutSendsBody(t *testing.T) {
	testkit.CheckLeaks(t)
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		head, _ := readHead(br)
		if !strings.Contains(head, "Expect: 100-continue") {
			return
		}
		// No 100 Continue: the client must send the body after its timeout.
		body := make([]byte, 4)
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"+string(body))
	})
	tr := newTestTransport(t, Options{ExpectContinueTimeout: 100 * time.Millisecond})
	// The context only bounds the test should the timer never fire.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "PUT", "http://"+addr+"/", strings.NewReader("data"))
	req.Header.Set("Expect", "100-continue")
	start := time.Now()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "data" || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("got %q after %v", b, time.Since(start))
	}
}
