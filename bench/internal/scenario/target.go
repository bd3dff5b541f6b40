package scenario

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
	"strings"
	"sync/atomic"

	"github.com/egress-go/egress/bench/internal/measure"
)

// The target server of the idle scenarios: a Go server in a process of
// its own that withholds its responses until AnswerAt requests are waiting
// at once. A pooling client therefore cannot reuse a connection before it
// has dialed all of them, and exactly AnswerAt connections exist; after
// the answers they sit idle in the client's pool. A client that sends no
// request (AnswerAt 0) just has its connections held.

func init() {
	Roles["target-server"] = targetServer
}

// targetResponse is the answer to every request: the 13-byte body.
const targetResponse = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nhello, world\n"

func targetServer(params []byte) error {
	p, err := decode(params)
	if err != nil {
		return err
	}
	measure.FileLimit()
	var cfg *tls.Config
	if len(p.CertPEM) > 0 {
		cert, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
		if err != nil {
			return err
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	}
	w := &withholder{answerAt: int64(p.AnswerAt), release: make(chan struct{})}
	var addrs []string
	// Eight addresses, so that 20,000 client connections fit in the
	// ephemeral port range.
	for _, a := range measure.LoopbackAddrs(8) {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		addrs = append(addrs, ln.Addr().String())
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				if cfg != nil {
					c = tls.Server(c, cfg)
				}
				go w.serve(c)
			}
		}()
	}
	ready(strings.Join(addrs, ","))
	waitForStop()
	return nil
}

type withholder struct {
	answerAt int64
	waiting  atomic.Int64
	release  chan struct{} // closed when answerAt requests wait
}

// hold counts a waiting request and returns once answerAt of them wait.
// A request after the release passes at once.
func (w *withholder) hold() {
	if w.waiting.Add(1) == w.answerAt {
		close(w.release)
	}
	<-w.release
}

// serve answers the requests of one keep-alive connection; the first
// waits for the release. Requests have no body (GET).
func (w *withholder) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 1024)
	first := true
	for {
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				break
			}
		}
		if first {
			first = false
			w.hold()
		}
		if _, err := c.Write([]byte(targetResponse)); err != nil {
			return
		}
	}
}
