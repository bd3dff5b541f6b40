package egress

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

func TestHTTPProxy(t *testing.T) {
	testkit.CheckLeaks(t)
	proxy := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			http.Error(w, "no tunnels here", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "via proxy: %s auth=%s", r.URL, r.Header.Get("Proxy-Authorization"))
	}))
	pu, _ := url.Parse(proxy.URL)
	pu.User = url.UserPassword("user", "secret")
	tr := newTestTransport(t, Options{Proxy: http.ProxyURL(pu)})
	// The origin's name is never resolved: only the proxy is dialed.
	resp, err := (&http.Client{Transport: tr}).Get("http://origin.invalid/path?q=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "via proxy: http://origin.invalid/path?q=1 auth=Basic dXNlcjpzZWNyZXQ="; string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
	// Unsupported proxy schemes are refused clearly.
	socks := newTestTransport(t, Options{Proxy: http.ProxyURL(&url.URL{Scheme: "socks5", Host: "127.0.0.1:1"})})
	if _, err := (&http.Client{Transport: socks}).Get("http://origin.invalid/"); err == nil {
		t.Fatal("socks5 proxy accepted")
	}
	var re *RequestError
	if _, err := socks.RoundTrip(mustRequest(t, "GET", "http://origin.invalid/")); !errors.As(err, &re) {
		t.Fatalf("want *RequestError, got %v", err)
	}
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
