package egress

import (
	"net/http"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// TestExchangeProtoMajor checks that OnHead sees the protocol of the
// response: 2 over h2c with prior knowledge, 1 without it, 0 after.
func TestExchangeProtoMajor(t *testing.T) {
	testkit.CheckLeaks(t)
	url := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tc := range []struct {
		prior bool
		want  int
	}{{true, 2}, {false, 1}} {
		tr := newTestTransport(t, Options{HTTP2: HTTP2Options{PriorKnowledge: tc.prior}})
		got := make(chan int, 1)
		done := make(chan error, 1)
		ex := &Exchange{
			URL:    url + "/",
			OnHead: func(ex *Exchange) { got <- ex.ProtoMajor() },
			OnDone: func(ex *Exchange, err error) { done <- err },
		}
		if err := tr.Send(ex); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("prior knowledge %v: %v", tc.prior, err)
		}
		if p := <-got; p != tc.want {
			t.Errorf("prior knowledge %v: ProtoMajor in OnHead = %d, want %d", tc.prior, p, tc.want)
		}
		if p := ex.ProtoMajor(); p != 0 {
			t.Errorf("ProtoMajor after OnHead = %d, want 0", p)
		}
	}
}
