package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// fakeProxy is an HTTP proxy on loopback: it answers plain requests itself
// ("proxied " and the request target) and tunnels CONNECT to upstream,
// whatever the host asked for, or refuses it with 403.
type fakeProxy struct {
	*testkit.Server
	mu    sync.Mutex
	lines []string // "METHOD target", in order
	auth  []string // Proxy-Authorization of each request
}

func newFakeProxy(t *testing.T, upstream string, refuse bool) *fakeProxy {
	p := &fakeProxy{}
	p.Server = testkit.NewServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.lines = append(p.lines, req.Method+" "+req.RequestURI)
		p.auth = append(p.auth, req.Header.Get("Proxy-Authorization"))
		p.mu.Unlock()
		if req.Method != http.MethodConnect {
			body := "proxied " + req.RequestURI
			c.Write([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body))
			return
		}
		if refuse {
			c.Write([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"))
			return
		}
		up, err := net.DialTimeout("tcp", upstream, 5*time.Second)
		if err != nil {
			c.Write([]byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"))
			return
		}
		defer up.Close()
		c.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		done := make(chan struct{})
		go func() {
			io.Copy(c, up)
			c.Close() // ends the copy below once the origin is done
			close(done)
		}()
		io.Copy(up, br)
		up.Close()
		<-done
	})
	return p
}

func (p *fakeProxy) seen() ([]string, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...), append([]string(nil), p.auth...)
}

// clearProxyEnv unsets every proxy variable for the test.
func clearProxyEnv(t *testing.T) {
	for _, v := range []string{"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"} {
		t.Setenv(v, "")
	}
}

// TestGetProxy: -x and the proxy variables send plain http to the proxy
// in absolute form, with credentials, and https through a CONNECT tunnel;
// no_proxy, --noproxy and loopback hosts go direct.
func TestGetProxy(t *testing.T) {
	testkit.CheckLeaks(t)
	noDNS(t)
	clearProxyEnv(t)
	plain := startTarget(t, false)
	secure := startTarget(t, true)
	pu, _ := url.Parse(plain.URL())
	su, _ := url.Parse(secure.URL())
	px := newFakeProxy(t, su.Host, false)
	const hello = "hello, egress\n"
	direct := "made.test:" + pu.Port() + ":127.0.0.1"
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		url  string
		out  string // the body
		line string // what the proxy saw; "" for nothing
		auth string
	}{
		{"-x", nil, []string{"-x", px.Addr()}, "http://origin.test/a?b=c", "proxied http://origin.test/a?b=c", "GET http://origin.test/a?b=c", ""},
		{"-x with credentials", nil, []string{"-x", "http://ann:s3cret@" + px.Addr()}, "http://origin.test/", "proxied http://origin.test/", "GET http://origin.test/", "Basic YW5uOnMzY3JldA=="},
		{"http_proxy", map[string]string{"http_proxy": px.Addr()}, nil, "http://origin.test/", "proxied http://origin.test/", "GET http://origin.test/", ""},
		{"HTTP_PROXY", map[string]string{"HTTP_PROXY": "http://" + px.Addr()}, nil, "http://origin.test/", "proxied http://origin.test/", "GET http://origin.test/", ""},
		{"all_proxy", map[string]string{"all_proxy": px.Addr()}, nil, "http://origin.test/", "proxied http://origin.test/", "GET http://origin.test/", ""},
		{"https_proxy tunnel", map[string]string{"https_proxy": px.Addr(), "http_proxy": "nowhere.test:1"}, []string{"-k"}, "https://origin.test:" + su.Port() + "/", hello, "CONNECT origin.test:" + su.Port(), ""},
		{"no_proxy", map[string]string{"http_proxy": px.Addr(), "no_proxy": "other.test, made.test"}, []string{"--resolve", direct}, "http://made.test:" + pu.Port() + "/", hello, "", ""},
		{"NO_PROXY subdomain", map[string]string{"http_proxy": px.Addr(), "NO_PROXY": ".test"}, []string{"--resolve", direct}, "http://made.test:" + pu.Port() + "/", hello, "", ""},
		{"--noproxy over no_proxy", map[string]string{"http_proxy": px.Addr(), "no_proxy": "made.test"}, []string{"--noproxy", "other.test"}, "http://made.test/", "proxied http://made.test/", "GET http://made.test/", ""},
		{"-x and --noproxy *", nil, []string{"-x", px.Addr(), "--noproxy", "*"}, plain.URL() + "/", hello, "", ""},
		{"loopback goes direct", map[string]string{"http_proxy": px.Addr()}, nil, plain.URL() + "/", hello, "", ""},
		{"-x for loopback too", nil, []string{"-x", px.Addr()}, plain.URL() + "/", "proxied " + plain.URL() + "/", "GET " + plain.URL() + "/", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearProxyEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			before, _ := px.seen()
			out, errOut, code := cli(t, append(append([]string{"get", "-v"}, tc.args...), tc.url)...)
			if code != 0 || out != tc.out {
				t.Fatalf("exit %d %q, want %q\n%s", code, out, tc.out, errOut)
			}
			lines, auth := px.seen()
			lines, auth = lines[len(before):], auth[len(before):]
			switch {
			case tc.line == "" && len(lines) != 0:
				t.Errorf("went through the proxy: %q", lines)
			case tc.line != "" && (len(lines) != 1 || lines[0] != tc.line || auth[0] != tc.auth):
				t.Errorf("the proxy saw %q %q, want %q %q", lines, auth, tc.line, tc.auth)
			}
			if (tc.line != "") != strings.Contains(errOut, "* proxy http://") {
				t.Errorf("-v and the proxy:\n%s", errOut)
			}
		})
	}

	refusing := newFakeProxy(t, su.Host, true)
	_, errOut, code := cli(t, "get", "-x", refusing.Addr(), "https://origin.test/")
	if code != 56 || !strings.Contains(errOut, "refused the tunnel to origin.test:443: 403 Forbidden") {
		t.Errorf("refused CONNECT: exit %d %q", code, errOut)
	}
	for _, bad := range [][]string{{"-x", "socks5://127.0.0.1:1080"}, {"-x", "http://"}} {
		if _, errOut, code := cli(t, append(append([]string{"get"}, bad...), "http://origin.test/")...); code != 2 {
			t.Errorf("%q: exit %d %q", bad, code, errOut)
		}
	}
	t.Setenv("http_proxy", "socks5://127.0.0.1:1080")
	if _, errOut, code := cli(t, "get", "http://origin.test/"); code != 2 || !strings.Contains(errOut, "http_proxy") {
		t.Errorf("bad http_proxy: exit %d %q", code, errOut)
	}
}
