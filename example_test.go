package egress_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/egress-go/egress"
)

// The Transport is a drop-in http.RoundTripper.
func ExampleTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello, egress")
	}))
	defer srv.Close()

	t, err := egress.NewTransport(egress.Options{})
	if err != nil {
		panic(err)
	}
	defer t.Close()
	client := &http.Client{Transport: t}

	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body) // streamed, with back-pressure
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello, egress
}

// The non-blocking API: callbacks on the loop, no goroutine per request,
// and an Exchange that can be sent again from its own OnDone.
func ExampleExchange() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "pong")
	}))
	defer srv.Close()

	t, _ := egress.NewTransport(egress.Options{})
	defer t.Close()

	done := make(chan struct{})
	count := 0
	ex := &egress.Exchange{URL: srv.URL + "/ping"}
	ex.OnBody = func(ex *egress.Exchange, p []byte) { /* p is valid during the call */ }
	ex.OnDone = func(ex *egress.Exchange, err error) {
		if count++; err == nil && count < 3 {
			t.Send(ex) // keep the connection busy
			return
		}
		close(done)
	}
	t.Send(ex)
	<-done
	fmt.Println("exchanges:", count, "reused:", ex.Reused())
	// Output: exchanges: 3 reused: true
}
