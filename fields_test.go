package egress

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// TestWithResponseFields: the hook sees an interim and a final head, with
// their fields in the order sent and names as sent.
func TestWithResponseFields(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := testkit.NewServer(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		c.Write([]byte("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
			"HTTP/1.1 200 OK\r\nZeta: 1\r\nalpha: 2\r\nContent-Length: 2\r\nAlpha: 3\r\n\r\nok"))
	})
	tr, err := NewTransport(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var got []string
	ctx := WithResponseFields(context.Background(), func(status int, fields []HeaderField) {
		var b strings.Builder
		for _, f := range fields {
			b.WriteString(f.Name + "=" + f.Value + " ")
		}
		got = append(got, http.StatusText(status)+": "+b.String())
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+srv.Addr()+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "Early Hints: Link=</a> |OK: Zeta=1 alpha=2 Content-Length=2 Alpha=3 "
	if strings.Join(got, "|") != want {
		t.Errorf("%q\nwant %q", strings.Join(got, "|"), want)
	}
}
