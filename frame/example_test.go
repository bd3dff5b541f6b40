package frame_test

import (
	"fmt"

	"github.com/egress-go/egress/frame"
)

// A text protocol client feeds whatever the connection delivered; lines
// that are cut between reads are completed on the next Feed.
func ExampleLineDecoder() {
	dec, err := frame.NewLineDecoder("\r\n", 1024)
	if err != nil {
		panic(err)
	}
	onLine := func(line []byte) error {
		// line is valid only during this call: convert or copy to keep it.
		fmt.Printf("%q\n", line)
		return nil
	}
	for _, read := range []string{"220 smtp.example ready\r\n250-SIZE", " 1000\r", "\n250 OK\r\n"} {
		if err := dec.Feed([]byte(read), onLine); err != nil {
			fmt.Println("close connection:", err)
			return
		}
	}
	fmt.Println("buffered:", dec.Buffered())
	// Output:
	// "220 smtp.example ready"
	// "250-SIZE 1000"
	// "250 OK"
	// buffered: 0
}

func ExampleLengthDecoder() {
	format := frame.LengthFormat{HeaderLen: 4, MaxPayload: 1 << 20}
	var wire []byte
	wire, _ = frame.AppendLengthPrefixed(wire, format, []byte("hello"))
	wire, _ = frame.AppendLengthPrefixed(wire, format, []byte("world"))

	dec, _ := frame.NewLengthDecoder(format)
	onPayload := func(p []byte) error {
		fmt.Printf("%s\n", p)
		return nil
	}
	// The stream may be cut anywhere, even inside a length prefix.
	dec.Feed(wire[:2], onPayload)
	dec.Feed(wire[2:11], onPayload)
	dec.Feed(wire[11:], onPayload)
	// Output:
	// hello
	// world
}

func ExampleFrameTooLargeError() {
	dec, _ := frame.NewLengthDecoder(frame.LengthFormat{HeaderLen: 2, MaxPayload: 100})
	err := dec.Feed([]byte{0x10, 0x00}, func([]byte) error { return nil })
	fmt.Println(err)
	// Output:
	// frame: frame of 4096 bytes exceeds the maximum of 100
}
