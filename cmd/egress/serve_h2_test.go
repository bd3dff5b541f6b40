package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// TestBenchNoURLHTTP2: bench with no URL and an HTTP/2 switch benchmarks
// the embedded server over HTTP/2 (h2c, or h2 over TLS with its
// certificate trusted), -m above 1 accepted, with no errors.
func TestBenchNoURLHTTP2(t *testing.T) {
	testkit.CheckLeaks(t)
	for _, tc := range []struct{ flag, scheme string }{
		{"--http2-prior-knowledge", "http://127.0.0.1:"},
		{"--http2", "https://127.0.0.1:"},
	} {
		out, errOut, code := cli(t, "bench", "--json", tc.flag, "-d", "1s", "-c", "2", "-m", "4")
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", tc.flag, code, errOut)
		}
		r := parseReport(t, out)
		if r.Requests <= 0 || r.Status["200"] != r.Requests || r.ErrorsTotal != 0 || r.Incomplete != 0 {
			t.Errorf("%s: requests %d status %v errors %v incomplete %d", tc.flag, r.Requests, r.Status, r.Errors, r.Incomplete)
		}
		if !strings.HasPrefix(r.URL, tc.scheme) || r.Bytes.Body != r.Requests*int64(len("hello, egress\n")) {
			t.Errorf("%s: url %s, bodies %d bytes for %d requests", tc.flag, r.URL, r.Bytes.Body, r.Requests)
		}
		var s streamsJSON
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatal(err)
		}
		if s.Protocol != "HTTP/2.0" || s.Protocols["HTTP/2.0"] != r.Requests || len(s.Protocols) != 1 {
			t.Errorf("%s: protocol %q %v, want HTTP/2.0 for all %d", tc.flag, s.Protocol, s.Protocols, r.Requests)
		}
		if s.Conns.Asked != 2 || s.Conns.Streams != 4 || s.Conns.Dialed != 2 {
			t.Errorf("%s: connections %+v, want 2 asked, 4 streams, 2 dialed", tc.flag, s.Conns)
		}
		if !strings.Contains(errOut, "no URL given") {
			t.Errorf("%s: stderr %q", tc.flag, errOut)
		}
	}
}

// startServe runs the serve command with args until the test ends, and
// returns the URL it printed; stop stops it and returns the rest of its
// output.
func startServe(t *testing.T, args ...string) (url string, stop func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), pw, &errb)
		pw.Close()
	}()
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		cancel()
		<-done
		t.Fatalf("%v; stderr %q", err, errb.String())
	}
	for _, f := range strings.Fields(line) {
		if strings.Contains(f, "://") {
			url = f
		}
	}
	if url == "" {
		cancel()
		go io.Copy(io.Discard, br) // serve's last line must not block it
		<-done
		t.Fatalf("no URL in %q", line)
	}
	stopped := false
	stop = func() string {
		if stopped {
			return ""
		}
		stopped = true
		cancel()
		rest, _ := io.ReadAll(br)
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d, stderr %q", code, errb.String())
		}
		return line + string(rest)
	}
	t.Cleanup(func() { stop() })
	return url, stop
}

// TestServeHTTP2: serve --http2-prior-knowledge answers h2c and HTTP/1.1
// on one port; serve --tls offers h2 and http/1.1 by ALPN, and --http1.1
// keeps TLS to HTTP/1.1.
func TestServeHTTP2(t *testing.T) {
	testkit.CheckLeaks(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	for _, tc := range []struct {
		name   string
		args   []string
		h2, h1 bool // the protocols the server must speak
	}{
		{"h2c", []string{"--http2-prior-knowledge"}, true, true},
		{"tls", []string{"--tls", "--cert-out", ca}, true, true},
		{"http2", []string{"--http2", "--cert-out", ca}, true, true},
		{"tls http1.1", []string{"--tls", "--http1.1", "--cert-out", ca}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, stop := startServe(t, tc.args...)
			var roots *x509.CertPool
			if strings.HasPrefix(url, "https://") {
				pem, err := os.ReadFile(ca)
				if err != nil {
					t.Fatal(err)
				}
				roots = x509.NewCertPool()
				roots.AppendCertsFromPEM(pem)
			} else if tc.name != "h2c" {
				t.Fatalf("URL %s", url)
			}
			requests := 0
			for _, h2 := range []bool{true, false} {
				wantMajor := 1
				if h2 {
					wantMajor = 2
				}
				var p http.Protocols
				cfg := &tls.Config{RootCAs: roots}
				switch {
				case !h2:
					p.SetHTTP1(true)
					cfg.NextProtos = []string{"http/1.1"}
				case roots == nil:
					p.SetUnencryptedHTTP2(true)
				default:
					p.SetHTTP2(true)
				}
				tr := &http.Transport{Protocols: &p, TLSClientConfig: cfg}
				resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(url + "/status/418")
				if (err == nil) != (h2 && tc.h2 || !h2 && tc.h1) {
					t.Errorf("h2=%v: %v", h2, err)
				}
				if err == nil {
					requests++
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 418 || resp.ProtoMajor != wantMajor || string(body) != "418 I'm a teapot\n" {
						t.Errorf("h2=%v: %s %d %q", h2, resp.Proto, resp.StatusCode, body)
					}
				}
				tr.CloseIdleConnections()
			}
			out := stop()
			if want := fmt.Sprintf("stopped after %d requests", requests); !strings.Contains(out, want) {
				t.Errorf("output %q lacks %q", out, want)
			}
		})
	}
}

// TestServeHTTP2Usage: the switches that make no sense together are
// refused before anything listens.
func TestServeHTTP2Usage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--http2-prior-knowledge", "--tls"}, "drop --tls"},
		{[]string{"--http2", "--http1.1"}, "exclude each other"},
		{[]string{"--http2-prior-knowledge", "--loops", "2"}, "--loops applies to the HTTP/1.1 server"},
		{[]string{"--http2-prior-knowledge", "--cert-out", "x.pem"}, "needs --tls"},
	} {
		_, errOut, code := cli(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d\n%s", tc.args, code, errOut)
		}
	}
}
