package target_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/target"
)

// Start a server on a free loopback port and ask it for a chunked body
// through the egress transport.
func Example() {
	s, err := target.Start(target.Config{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	tr, err := egress.NewTransport(egress.Options{TLSClientConfig: s.ClientTLSConfig()})
	if err != nil {
		panic(err)
	}
	defer tr.Close()
	resp, err := (&http.Client{Transport: tr}).Get(s.URL() + "/chunked?n=3&size=4")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, resp.TransferEncoding, string(b))
	// Output: 200 OK [chunked] abcdabcdabcd
}
