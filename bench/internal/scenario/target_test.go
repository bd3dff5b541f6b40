package scenario

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// The target server answers nobody until answerAt requests wait, then
// everybody, and keeps answering on the same connections.
func TestWithholderAnswersAllAtOnce(t *testing.T) {
	testkit.CheckLeaks(t)
	w := &withholder{answerAt: 3, release: make(chan struct{})}
	var clients []net.Conn
	for i := 0; i < 3; i++ {
		c, s := net.Pipe()
		defer c.Close()
		go w.serve(s)
		clients = append(clients, c)
	}
	got := make(chan string, 3)
	send := func(c net.Conn) {
		go func() {
			io.WriteString(c, "GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
			r := bufio.NewReader(c)
			buf := make([]byte, len(targetResponse))
			io.ReadFull(r, buf)
			got <- string(buf)
		}()
	}
	send(clients[0])
	send(clients[1])
	// Both requests are read and held: no answer may come (a wrong one
	// would come at once; the wait only gives it time to show).
	testkit.WaitFor(t, "two requests held", func() bool { return w.waiting.Load() == 2 })
	select {
	case <-got:
		t.Fatal("answered before all requests were in flight")
	case <-time.After(50 * time.Millisecond):
	}
	send(clients[2])
	for i := 0; i < 3; i++ {
		select {
		case s := <-got:
			if !strings.HasSuffix(s, "hello, world\n") {
				t.Fatalf("response %q", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no answer after the release")
		}
	}
	send(clients[0]) // keep-alive: the next request is answered at once
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("second request not answered")
	}
}

// Every client a scenario names has a role to run it (or is an anchor).
func TestClientsHaveRoles(t *testing.T) {
	for _, c := range httpSmallClients {
		if c != "wrk" && c != "h2load" && Roles["http-"+c] == nil {
			t.Errorf("no role for http client %s", c)
		}
	}
	for _, c := range append(append([]string{}, idleClients...), tlsIdleClients...) {
		if Roles["idle-"+c] == nil {
			t.Errorf("no role for idle client %s", c)
		}
	}
	for _, r := range []string{"echo-egress", "echo-goroutine", "echo-server", "hs-egress", "hs-tlsconn", "tls-server", "target-server", "nginx"} {
		if Roles[r] == nil {
			t.Errorf("no role %s", r)
		}
	}
}
