package http1_test

import (
	"fmt"

	"github.com/egress-go/egress/http1"
)

// A server loop in miniature: feed what the socket delivered, answer each
// request when it is complete. Two pipelined requests arrive in one read.
func ExampleRequestParser() {
	in := []byte("POST /echo HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello" +
		"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
	var p http1.RequestParser
	var out, body []byte
	for {
		ev, n, err := p.Feed(in)
		in = in[n:]
		if err != nil {
			out, _ = http1.AppendResponseHead(out, &http1.ResponseHead{
				StatusCode: http1.StatusForError(err), Close: true})
			break
		}
		if ev == http1.EventNone {
			break // wait for more input
		}
		switch ev {
		case http1.EventHead:
			fmt.Printf("%s %s keep-alive=%v\n", p.Method(), p.Target(), p.KeepAlive())
			body = body[:0]
		case http1.EventBody:
			body = append(body, p.Body()...) // valid until the next Feed
		case http1.EventDone:
			out, _ = http1.AppendResponseHead(out, &http1.ResponseHead{
				StatusCode: 200, ContentLength: int64(len(body)), Close: !p.KeepAlive()})
			out = append(out, body...)
		}
	}
	fmt.Printf("%q\n", out)
	// Output:
	// POST /echo keep-alive=true
	// GET / keep-alive=false
	// "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
}
