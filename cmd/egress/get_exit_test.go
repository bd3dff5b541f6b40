package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// noDNS makes get's look-ups fail as for a name that does not exist, so
// that no test asks a DNS server; --resolve still answers.
func noDNS(t *testing.T) {
	t.Helper()
	testLookup = func(_ context.Context, _, host string) ([]netip.Addr, error) {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	t.Cleanup(func() { testLookup = nil })
}

// rawServer answers each connection with handle after reading the
// request head.
func rawServer(t *testing.T, handle func(c net.Conn)) *testkit.Server {
	t.Helper()
	return testkit.NewServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		handle(c)
	})
}

// TestGetExitCodes: each class of failure exits with curl's code and one
// error line naming it, with nothing on stdout.
func TestGetExitCodes(t *testing.T) {
	testkit.CheckLeaks(t)
	noDNS(t)
	plain := startTarget(t, false)
	tlsSrv := startTarget(t, true)
	dead := testkit.ClosedAddr(t)
	empty := rawServer(t, func(c net.Conn) {})
	reset := rawServer(t, func(c net.Conn) { c.(*net.TCPConn).SetLinger(0) })
	weird := rawServer(t, func(c net.Conn) { c.Write([]byte("HELLO THERE\r\n\r\n")) })
	short := rawServer(t, func(c net.Conn) {
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
	})
	notGzip := rawServer(t, func(c net.Conn) {
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!"))
	})
	var loops atomic.Int32
	loop := rawServer(t, func(c net.Conn) {
		loops.Add(1)
		c.Write([]byte("HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
	})
	notTLS := testkit.NewServer(t, func(c net.Conn) { c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")) })
	noDir := filepath.Join(t.TempDir(), "missing", "out")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"example.com/x"}, 3, "did you mean http://example.com/x?"},
		{[]string{"ftp://example.com/"}, 1, "scheme must be http or https"},
		{[]string{"http://nx.test/"}, 6, "cannot resolve host nx.test: no such host"},
		{[]string{"-x", "nxproxy.test:3128", "http://origin.test/"}, 5, "cannot resolve proxy nxproxy.test: no such host"},
		{[]string{"http://" + dead + "/"}, 7, "cannot connect to " + dead + ": connection refused"},
		{[]string{"-x", dead, "http://origin.test/"}, 7, "cannot connect to proxy " + dead + ": connection refused"},
		{[]string{"http://" + weird.Addr() + "/"}, 8, "not valid HTTP: malformed status line"},
		{[]string{"http://" + short.Addr() + "/"}, 18, "the body ended after 3 of 10 bytes"},
		{[]string{"-f", plain.URL() + "/status/503"}, 22, "answered 503 Service Unavailable"},
		{[]string{"-o", noDir, plain.URL() + "/"}, 23, "no such file or directory"},
		{[]string{"-d", "@" + noDir, plain.URL() + "/echo"}, 26, "no such file or directory"},
		{[]string{"-t", "100ms", plain.URL() + "/delay/60000"}, 28, "timed out after 100ms (-t)"},
		{[]string{"https://" + notTLS.Addr() + "/"}, 35, "TLS handshake with 127.0.0.1 failed"},
		{[]string{"-L", "--max-redirs", "3", "http://" + loop.Addr() + "/"}, 47, "stopped after 3 redirects"},
		{[]string{"http://" + empty.Addr() + "/"}, 52, "closed the connection without replying"},
		{[]string{"http://" + reset.Addr() + "/"}, 56, "connection reset by peer"},
		{[]string{tlsSrv.URL() + "/"}, 60, "did not verify (unknown authority)"},
		{[]string{"--compressed", "http://" + notGzip.Addr() + "/"}, 61, "decoding the gzip body"},
	} {
		out, errOut, code := cli(t, append([]string{"get"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("get %q: exit %d, want %d with %q:\n%s", tc.args, code, tc.code, tc.msg, errOut)
			continue
		}
		oneLineError(t, errOut)
		if tc.code != 18 && out != "" {
			t.Errorf("get %q wrote %q", tc.args, out)
		}
	}
	if n := loops.Load(); n != 4 {
		t.Errorf("--max-redirs 3: the server saw %d requests, want 4", n)
	}
}

// TestGetMessagesSayItOnce: no part of an error message is repeated, as
// in "connection refused (connection refused)" (an engine error carries
// its errno, whose text is the same) or a URL named twice.
func TestGetMessagesSayItOnce(t *testing.T) {
	testkit.CheckLeaks(t)
	dead := testkit.ClosedAddr(t)
	reset := rawServer(t, func(c net.Conn) { c.(*net.TCPConn).SetLinger(0) })
	for _, tc := range []struct{ url, once string }{
		{"http://" + dead + "/", "connection refused"},
		{"https://" + dead + "/", "connection refused"},
		{"http://" + reset.Addr() + "/", "connection reset by peer"},
	} {
		_, errOut, code := cli(t, "get", tc.url)
		if code == 0 || strings.Count(errOut, tc.once) != 1 {
			t.Errorf("%s: exit %d, want %q once:\n%s", tc.url, code, tc.once, errOut)
		}
		host := strings.TrimPrefix(strings.TrimPrefix(tc.url, "http://"), "https://")
		host = strings.TrimSuffix(host, "/")
		if strings.Count(errOut, host) > 1 {
			t.Errorf("%s: the address is named more than once:\n%s", tc.url, errOut)
		}
	}
}

// TestGetSilent: -s prints no error (the exit status still tells); -sS
// prints it.
func TestGetSilent(t *testing.T) {
	testkit.CheckLeaks(t)
	dead := "http://" + testkit.ClosedAddr(t) + "/"
	out, errOut, code := cli(t, "get", "-s", dead)
	if code != 7 || out != "" || errOut != "" {
		t.Errorf("-s: exit %d %q %q", code, out, errOut)
	}
	_, errOut, code = cli(t, "get", "-sS", dead)
	if code != 7 || !strings.Contains(errOut, "connection refused") {
		t.Errorf("-sS: exit %d %q", code, errOut)
	}
}

// TestGetCompressed: --compressed asks for gzip or deflate and writes the
// body decoded; size_download counts the bytes received. Without it,
// nothing is asked for.
func TestGetCompressed(t *testing.T) {
	testkit.CheckLeaks(t)
	body := strings.Repeat("compress me ", 1000)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(body))
	zw.Close()
	srv := rawServerReq(t, func(c net.Conn, req *http.Request) {
		if strings.Contains(req.Header.Get("Accept-Encoding"), "gzip") {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(zipped.Len()) + "\r\n\r\n"))
			c.Write(zipped.Bytes())
			return
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body))
	})
	url := "http://" + srv.Addr() + "/"
	out, errOut, code := cli(t, "get", "--compressed", "-w", "\n%{size_download}", url)
	want := body + "\n" + strconv.Itoa(zipped.Len())
	if code != 0 || out != want {
		t.Fatalf("--compressed: exit %d, %d bytes out (want %d)\n%s", code, len(out), len(want), errOut)
	}
	out, _, code = cli(t, "get", "-w", "\n%{size_download}", url)
	if code != 0 || out != body+"\n"+strconv.Itoa(len(body)) {
		t.Fatalf("without --compressed: exit %d, %d bytes", code, len(out))
	}
}

// rawServerReq is rawServer with the request handed to the handler.
func rawServerReq(t *testing.T, handle func(c net.Conn, req *http.Request)) *testkit.Server {
	t.Helper()
	return testkit.NewServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			handle(c, req)
		}
	})
}
