package http2_test

import (
	"fmt"

	"github.com/egress-go/egress/http2"
	"golang.org/x/net/http2/hpack"
)

// exchange is what an event loop keeps per request: the stream's handler.
type exchange struct {
	conn *http2.Conn
	body []byte // a real client hands body bytes to a bounded reader
}

func (e *exchange) Head(s *http2.Stream, h *http2.ResponseHead) {
	fmt.Printf("stream %d: status %d, content-type %s\n", s.ID(), h.Status, h.Get("content-type"))
}

func (e *exchange) Data(s *http2.Stream, p []byte) {
	e.body = append(e.body, p...)
	// The application read them: return the flow-control credit.
	e.conn.Consumed(s, len(p))
}

func (e *exchange) Trailers(s *http2.Stream, h *http2.ResponseHead) {}

func (e *exchange) Closed(s *http2.Stream, err error) {
	fmt.Printf("stream %d closed (%v): %q\n", s.ID(), err, e.body)
}

func (e *exchange) WindowOpen(s *http2.Stream) {}

// serverBytes builds what a server would send: its SETTINGS, the
// acknowledgement of ours, and a response on stream 1.
func serverBytes() []byte {
	var block []byte
	enc := hpack.NewEncoder(writerFunc(func(p []byte) { block = append(block, p...) }))
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "text/plain"})
	in := http2.AppendSettings(nil, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
	in = http2.AppendSettingsAck(in)
	in = http2.AppendHeaders(in, 1, false, block, http2.MinMaxFrameSize)
	return http2.AppendData(in, 1, true, []byte("hello, h2"))
}

type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// This example drives a Conn as an event loop would: queue the preface
// and a request, "write" what is pending, feed what the server sent (here
// split in two reads), and see the events.
func ExampleConn() {
	var c http2.Conn
	c.Init(http2.Config{}, nil)

	x := &exchange{conn: &c}
	_, err := c.OpenStream(x, &http2.Request{
		Method: "GET", Scheme: "https", Authority: "example.com", Path: "/hello",
	}, true)
	if err != nil {
		panic(err)
	}
	fmt.Printf("to send: %d bytes\n", len(c.Pending()))
	c.Flushed() // the loop copied them to the socket

	in := serverBytes()
	for _, read := range [][]byte{in[:20], in[20:]} {
		if err := c.Feed(read); err != nil {
			panic(err) // a connection error: the GOAWAY is in Pending
		}
	}
	fmt.Printf("to send: %d bytes (the SETTINGS acknowledgement)\n", len(c.Pending()))
	c.Flushed()
	// Output:
	// to send: 104 bytes
	// stream 1: status 200, content-type text/plain
	// stream 1 closed (<nil>): "hello, h2"
	// to send: 9 bytes (the SETTINGS acknowledgement)
}
