package egress

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/egress-go/egress/http1"
	"github.com/egress-go/egress/http2"
	"github.com/egress-go/egress/internal/testkit"
)

// TestMaxResponseHeader: the response head's bounds are the Transport's
// to set, as net/http's MaxResponseHeaderBytes is: the defaults refuse a
// 100 KiB head and a head of 150 fields; the options admit them, over
// HTTP/1.1 and HTTP/2 alike.
func TestMaxResponseHeader(t *testing.T) {
	testkit.CheckLeaks(t)
	big := strings.Repeat("c", 100<<10)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Set-Cookie", "session="+big)
		case "/many":
			for i := range 150 {
				w.Header().Set(fmt.Sprintf("X-Field-%d", i), "v")
			}
		case "/wide": // 80 KiB in fields of 2 KiB
			for i := range 40 {
				w.Header().Set(fmt.Sprintf("X-Field-%d", i), big[:2<<10])
			}
		}
		io.WriteString(w, "ok")
	})
	h1 := newServer(t, handler).URL
	h2srv, h2cfg := newH2TLSServer(t, handler)

	get := func(tr *Transport, url string) (*http.Response, error) {
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}

	t.Run("HTTP/1.1 defaults", func(t *testing.T) {
		tr := newTestTransport(t, Options{})
		if _, err := get(tr, h1+"/big"); !errors.Is(err, http1.ErrHeaderTooLarge) {
			t.Errorf("100 KiB head: got %v, want http1.ErrHeaderTooLarge", err)
		}
		if _, err := get(tr, h1+"/many"); !errors.Is(err, http1.ErrTooManyFields) {
			t.Errorf("150 fields: got %v, want http1.ErrTooManyFields", err)
		}
	})
	t.Run("HTTP/1.1 raised", func(t *testing.T) {
		tr := newTestTransport(t, Options{MaxResponseHeaderBytes: 1 << 20, MaxResponseHeaderFields: 200})
		resp, err := get(tr, h1+"/big")
		if err != nil || len(resp.Header.Get("Set-Cookie")) != len("session=")+len(big) {
			t.Errorf("100 KiB head under a 1 MiB bound: %v", err)
		}
		if resp, err := get(tr, h1+"/many"); err != nil || resp.Header.Get("X-Field-149") != "v" {
			t.Errorf("150 fields under a bound of 200: %v", err)
		}
	})
	t.Run("HTTP/2 defaults", func(t *testing.T) {
		tr := newTestTransport(t, Options{TLSClientConfig: h2cfg})
		if _, err := get(tr, h2srv.URL+"/wide"); !errors.Is(err, http2.ErrHeaderListTooLarge) {
			t.Errorf("80 KiB head: got %v, want http2.ErrHeaderListTooLarge", err)
		}
		// One field longer than the bound cannot even be decoded: HPACK
		// fails the connection (COMPRESSION_ERROR), as in x/net/http2.
		if _, err := get(tr, h2srv.URL+"/big"); err == nil {
			t.Error("100 KiB field admitted under the 64 KiB default")
		}
	})
	t.Run("HTTP/2 raised", func(t *testing.T) {
		tr := newTestTransport(t, Options{TLSClientConfig: h2cfg, MaxResponseHeaderBytes: 1 << 20})
		resp, err := get(tr, h2srv.URL+"/big")
		if err != nil || resp.ProtoMajor != 2 || len(resp.Header.Get("Set-Cookie")) != len("session=")+len(big) {
			t.Errorf("100 KiB head under a 1 MiB bound: %v (%v)", err, resp)
		}
		if resp, err := get(tr, h2srv.URL+"/wide"); err != nil || resp.Header.Get("X-Field-39") == "" {
			t.Errorf("80 KiB head under a 1 MiB bound: %v", err)
		}
	})
}
