package http1_test

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/egress-go/egress/http1"
)

// conn stands for the event loop's view of one client connection.
type conn struct {
	parser http1.ResponseParser
	body   []byte // a real client would hand body bytes to a bounded reader
}

// onReadable is what the loop calls with the bytes a read returned. The
// slice is the loop's shared read buffer: valid only during the call.
func (c *conn) onReadable(in []byte) (done bool, err error) {
	p := &c.parser
	for {
		ev, n, err := p.Feed(in)
		in = in[n:]
		if err != nil {
			return false, err // protocol violation: close the connection
		}
		switch ev {
		case http1.EventNone:
			return false, nil // all consumed: wait for the next read
		case http1.EventInformational:
			fmt.Println("interim:", p.StatusCode())
		case http1.EventHead:
			fmt.Printf("head: %d %s, Content-Type %s, length %d\n",
				p.StatusCode(), p.Reason(), p.Get("Content-Type"), p.ContentLength())
		case http1.EventBody:
			c.body = append(c.body, p.Body()...)
		case http1.EventTrailers:
			fmt.Println("trailer:", p.Trailer())
		case http1.EventDone:
			// Feeding the rest (normally empty) once more reports any
			// stray bytes as ErrExtraData, which rules out reuse.
			if _, _, err := p.Feed(in); err != nil {
				return true, err
			}
			return true, nil
		}
	}
}

// This example shows the event-loop side of a request: Reset when the
// request is sent, Feed each read, EOF when the peer closes, and the
// keep-alive decision at the end.
func ExampleResponseParser() {
	// Encode the request head into the connection's write buffer.
	wbuf := make([]byte, 0, 512)
	wbuf, err := http1.AppendRequestHead(wbuf, &http1.RequestHead{
		Method: "GET",
		Target: "/items/42",
		Host:   "api.example.com",
		Fields: []http1.HeaderField{{Name: "Accept", Value: "application/json"}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("request: %q\n", wbuf)

	// The response arrives in three reads, split at arbitrary bytes.
	c := &conn{}
	c.parser.Reset("GET")
	reads := []string{
		"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: appli",
		"cation/json\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"id\":42}\r\n",
		"0\r\nX-Checksum: 1234\r\n\r\n",
	}
	done := false
	for _, r := range reads {
		if done, err = c.onReadable([]byte(r)); err != nil {
			fmt.Println("error:", err)
			return
		}
	}
	if !done {
		// The server closed the connection: EOF completes a
		// close-delimited body or reports what was truncated.
		if err := c.parser.EOF(); err != nil {
			var te *http1.TruncatedError
			fmt.Println("truncated:", errors.As(err, &te))
			return
		}
	}
	fmt.Printf("body: %s\n", c.body)
	fmt.Println("reuse connection:", c.parser.KeepAlive())

	// The RoundTripper path builds an http.Header instead.
	var p http1.ResponseParser
	p.Reset("HEAD")
	ev, _, _ := p.Feed([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"))
	resp := &http.Response{StatusCode: p.StatusCode(), Header: p.Header(), ContentLength: p.ContentLength()}
	fmt.Println(ev, resp.StatusCode, resp.ContentLength, p.HasBody())

	// Output:
	// request: "GET /items/42 HTTP/1.1\r\nHost: api.example.com\r\nAccept: application/json\r\n\r\n"
	// interim: 103
	// head: 200 OK, Content-Type application/json, length -1
	// trailer: map[X-Checksum:[1234]]
	// body: {"id":42}
	// reuse connection: true
	// Head 200 1000 false
}
