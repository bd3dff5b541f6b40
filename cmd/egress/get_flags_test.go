package main

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
	"github.com/egress-go/egress/target"
)

// TestGetIncludeAndHead: -i writes the head, CRLF-terminated as curl
// does, before the body on stdout; -I sends HEAD and writes the head
// alone; neither puts anything on stderr.
func TestGetIncludeAndHead(t *testing.T) {
	testkit.CheckLeaks(t)
	var methods []string
	var mu sync.Mutex
	srv := rawServerReq(t, func(c net.Conn, req *http.Request) {
		mu.Lock()
		methods = append(methods, req.Method)
		mu.Unlock()
		head := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
		if req.Method == http.MethodHead {
			c.Write([]byte(head))
			return
		}
		c.Write([]byte(head + "hello"))
	})
	url := "http://" + srv.Addr() + "/"
	wantHead := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
	out, errOut, code := cli(t, "get", "-i", url)
	if code != 0 || out != wantHead+"hello" || errOut != "" {
		t.Errorf("-i: exit %d %q %q", code, out, errOut)
	}
	out, errOut, code = cli(t, "get", "-I", url)
	if code != 0 || out != wantHead || errOut != "" {
		t.Errorf("-I: exit %d %q %q", code, out, errOut)
	}
	mu.Lock()
	if strings.Join(methods, " ") != "GET HEAD" {
		t.Errorf("the server saw %v", methods)
	}
	mu.Unlock()

	// HTTP/2 has no reason phrase: the status line is curl's "HTTP/2 200".
	h2c, err := target.Start(target.Config{HTTP2: target.H2C})
	if err != nil {
		t.Fatal(err)
	}
	defer h2c.Close()
	out, errOut, code = cli(t, "get", "--http2-prior-knowledge", "-i", "-w", "|%{http_version}", h2c.URL()+"/")
	if code != 0 || !strings.HasPrefix(out, "HTTP/2 200\r\n") || !strings.HasSuffix(out, "\r\n\r\nhello, egress\n|2") {
		t.Errorf("-i over h2c: exit %d %q %q", code, out, errOut)
	}
}

// TestGetHeaderOrder: -i and -v print the fields in the order the server
// sent them, repeated names apart, names as sent, through redirects.
func TestGetHeaderOrder(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := rawServerReq(t, func(c net.Conn, req *http.Request) {
		if req.URL.Path == "/moved" {
			c.Write([]byte("HTTP/1.1 301 Moved Permanently\r\nzz-last: 1\r\nLocation: /\r\nAA-First: 2\r\nContent-Length: 0\r\n\r\n"))
			return
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nZeta: 1\r\nalpha: 2\r\nContent-Length: 2\r\nMiddle: 3\r\nAlpha: 4\r\n\r\nok"))
	})
	want := "HTTP/1.1 301 Moved Permanently\r\nzz-last: 1\r\nLocation: /\r\nAA-First: 2\r\nContent-Length: 0\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nZeta: 1\r\nalpha: 2\r\nContent-Length: 2\r\nMiddle: 3\r\nAlpha: 4\r\n\r\nok"
	out, errOut, code := cli(t, "get", "-i", "-L", "-v", "http://"+srv.Addr()+"/moved")
	if code != 0 || out != want {
		t.Errorf("-i: exit %d\n%q\nwant\n%q", code, out, want)
	}
	var got []string
	for _, l := range strings.Split(errOut, "\n") {
		if strings.HasPrefix(l, "< ") && strings.Contains(l, ": ") {
			got = append(got, strings.TrimPrefix(l, "< "))
		}
	}
	if w := "zz-last: 1|Location: /|AA-First: 2|Content-Length: 0|Zeta: 1|alpha: 2|Content-Length: 2|Middle: 3|Alpha: 4"; strings.Join(got, "|") != w {
		t.Errorf("-v: %q\nwant %q", strings.Join(got, "|"), w)
	}
}

// redirectServer answers /hop/N with a redirect to /hop/N-1 and /hop/0
// with "arrived".
func redirectServer(t *testing.T) *testkit.Server {
	return rawServerReq(t, func(c net.Conn, req *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/hop/"))
		if n > 0 {
			c.Write([]byte("HTTP/1.1 302 Found\r\nLocation: /hop/" + strconv.Itoa(n-1) + "\r\nContent-Length: 0\r\n\r\n"))
			return
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\narrived"))
	})
}

// TestGetRedirects: -L follows redirects; -v prints every hop's request
// and response on stderr, -i every hop's head on stdout, and -w counts
// them; without -L the redirect itself is the answer.
func TestGetRedirects(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := redirectServer(t)
	base := "http://" + srv.Addr()
	out, errOut, code := cli(t, "get", "-v", "-L", "-w", "\n%{num_redirects} %{url_effective} %{http_code}", base+"/hop/2")
	if code != 0 || out != "arrived\n2 "+base+"/hop/0 200" {
		t.Fatalf("exit %d %q\n%s", code, out, errOut)
	}
	var got []string
	for _, l := range strings.Split(errOut, "\n") {
		if strings.HasPrefix(l, "> GET") || strings.HasPrefix(l, "< HTTP") {
			got = append(got, l)
		}
	}
	want := []string{
		"> GET /hop/2 HTTP/1.1", "< HTTP/1.1 302 Found",
		"> GET /hop/1 HTTP/1.1", "< HTTP/1.1 302 Found",
		"> GET /hop/0 HTTP/1.1", "< HTTP/1.1 200 OK",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("-v -L hops:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	out, _, code = cli(t, "get", "-i", "-L", base+"/hop/1")
	if code != 0 || strings.Count(out, "HTTP/1.1 302 Found\r\n") != 1 || strings.Count(out, "HTTP/1.1 200 OK\r\n") != 1 ||
		!strings.HasSuffix(out, "\r\n\r\narrived") || strings.Index(out, "302") > strings.Index(out, "200 OK") {
		t.Errorf("-i -L: exit %d %q", code, out)
	}
	out, _, code = cli(t, "get", "-w", "%{num_redirects} %{http_code}", base+"/hop/1")
	if code != 0 || out != "0 302" {
		t.Errorf("without -L: exit %d %q", code, out)
	}
}

// TestGetWriteOut: -w's variables, escapes and @file, on success and on
// failure, with the timing phases in order.
func TestGetWriteOut(t *testing.T) {
	testkit.CheckLeaks(t)
	plain := startTarget(t, false)
	secure := startTarget(t, true)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, secure.CertificatePEM(), 0o644)
	format := `%{http_code} %{http_version} %{size_download} %{num_redirects} %{method} %{url_effective}\n` +
		`%{time_namelookup} %{time_connect} %{time_appconnect} %{time_pretransfer} %{time_starttransfer} %{time_total}\n` +
		`%{speed_download} %{exitcode} 100%%\t%{remote_ip}`
	for _, tc := range []struct {
		url  string
		args []string
		tls  bool
	}{
		{plain.URL() + "/bytes/1000", nil, false},
		{secure.URL() + "/bytes/1000", []string{"--cacert", ca, "--http1.1"}, true},
	} {
		out, errOut, code := cli(t, append(append([]string{"get", "-o", os.DevNull, "-w", format}, tc.args...), tc.url)...)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		lines := strings.Split(out, "\n")
		if len(lines) != 3 || lines[0] != "200 1.1 1000 0 GET "+tc.url || !strings.HasSuffix(lines[2], " 0 100%\t127.0.0.1") {
			t.Fatalf("%q", out)
		}
		var times []float64
		for _, f := range strings.Fields(lines[1]) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil || v < 0 || v > 30 {
				t.Fatalf("times %q", lines[1])
			}
			times = append(times, v)
		}
		lookup, connect, appconnect, pre, start, total := times[0], times[1], times[2], times[3], times[4], times[5]
		if !(lookup <= connect && connect <= pre && pre <= start && start <= total && total > 0) {
			t.Errorf("phases out of order: %q", lines[1])
		}
		if tc.tls != (appconnect > 0) || tc.tls && !(connect <= appconnect && appconnect <= pre) {
			t.Errorf("tls %v, time_appconnect: %q", tc.tls, lines[1])
		}
		if speed, _ := strconv.ParseFloat(strings.Fields(lines[2])[0], 64); speed <= 0 {
			t.Errorf("speed_download: %q", lines[2])
		}
	}
	// @file, and a failure: no status, the exit code and message.
	f := filepath.Join(t.TempDir(), "format")
	os.WriteFile(f, []byte(`%{http_code} %{exitcode} %{errormsg}`), 0o644)
	dead := "http://" + testkit.ClosedAddr(t) + "/"
	out, errOut, code := cli(t, "get", "-w", "@"+f, dead)
	if code != 7 || !strings.HasPrefix(out, "000 7 ") || !strings.Contains(out, "connection refused") || !strings.Contains(errOut, "connection refused") {
		t.Errorf("failure: exit %d %q %q", code, out, errOut)
	}
	_, errOut, code = cli(t, "get", "-w", "%{time_nope}", plain.URL())
	if code != 2 || !strings.Contains(errOut, "unknown variable %{time_nope}") {
		t.Errorf("unknown variable: exit %d %q", code, errOut)
	}
}

// TestGetResolve: --resolve sends a made-up name's requests to the
// address given, for that port only; -4 and -6 keep to their family.
func TestGetResolve(t *testing.T) {
	testkit.CheckLeaks(t)
	noDNS(t)
	s := startTarget(t, false)
	u, _ := url.Parse(s.URL())
	port := u.Port()
	made := "http://made.test:" + port + "/"
	out, errOut, code := cli(t, "get", "-v", "--resolve", "made.test:"+port+":127.0.0.1", made)
	if code != 0 || out != "hello, egress\n" || !strings.Contains(errOut, "> Host: made.test:"+port) {
		t.Fatalf("exit %d %q\n%s", code, out, errOut)
	}
	// Another port's entry does not apply: the name goes to DNS, which
	// knows it not.
	_, errOut, code = cli(t, "get", "--resolve", "made.test:1:127.0.0.1", made)
	if code != 6 || !strings.Contains(errOut, "cannot resolve host made.test") {
		t.Errorf("other port: exit %d %q", code, errOut)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-4", "--resolve", "made.test:" + port + ":127.0.0.1", made}, 0},
		{[]string{"-6", "--resolve", "made.test:" + port + ":127.0.0.1", made}, 6},
		{[]string{"-6", s.URL() + "/"}, 6},
		{[]string{"-4", "http://[::1]:" + port + "/"}, 6},
		{[]string{"--resolve", "made.test:x:127.0.0.1", made}, 2},
		{[]string{"--resolve", "made.test:80", made}, 2},
		{[]string{"-4", "-6", made}, 2},
	} {
		_, errOut, code := cli(t, append([]string{"get"}, tc.args...)...)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d\n%s", tc.args, code, tc.code, errOut)
		}
	}
}

// TestGetAgentAndUser: -A sets the User-Agent, -u basic credentials; -H
// wins over both.
func TestGetAgentAndUser(t *testing.T) {
	testkit.CheckLeaks(t)
	srv := rawServerReq(t, func(c net.Conn, req *http.Request) {
		body := req.Header.Get("User-Agent") + "|" + req.Header.Get("Authorization")
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body))
	})
	url := "http://" + srv.Addr() + "/"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "egress/devel|"},
		{[]string{"-A", "curl/8.0"}, "curl/8.0|"},
		{[]string{"-u", "ann:s3cret"}, "egress/devel|Basic YW5uOnMzY3JldA=="},
		{[]string{"-A", "x", "-H", "User-Agent: y", "-u", "a:b", "-H", "Authorization: Bearer t"}, "y|Bearer t"},
	} {
		out, errOut, code := cli(t, append(append([]string{"get"}, tc.args...), url)...)
		if code != 0 || out != tc.want {
			t.Errorf("%q: exit %d %q, want %q\n%s", tc.args, code, out, tc.want, errOut)
		}
	}
	if _, errOut, code := cli(t, "get", "-u", "nopassword", url); code != 2 || !strings.Contains(errOut, "user:password") {
		t.Errorf("-u without a password: exit %d %q", code, errOut)
	}
}

// TestGetRetry: --retry retries 5xx answers and timeouts with a delay,
// counting the attempts the server saw, writes only the last answer's
// body, and gives up after N; a 404 or a refused connection is not
// retried.
func TestGetRetry(t *testing.T) {
	testkit.CheckLeaks(t)
	var seen, failFirst atomic.Int32
	failFirst.Store(2)
	srv := rawServerReq(t, func(c net.Conn, req *http.Request) {
		n := seen.Add(1)
		switch {
		case req.URL.Path == "/404":
			c.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"))
		case req.URL.Path == "/after" && n == 1:
			c.Write([]byte("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"))
		case req.URL.Path == "/after":
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		case req.URL.Path == "/slow" && n <= failFirst.Load():
			// Answer nothing: the attempt times out (-t) and the
			// connection closes.
			buf := make([]byte, 1)
			c.Read(buf)
		case n <= failFirst.Load():
			c.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"))
		default:
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		}
	})
	base := "http://" + srv.Addr()
	for _, tc := range []struct {
		path     string
		args     []string
		code     int
		out      string
		attempts int32
	}{
		{"/", []string{"--retry", "3"}, 0, "ok", 3},
		{"/", []string{"--retry", "1"}, 0, "busy", 2},
		{"/", []string{"--retry", "1", "-f"}, 22, "", 2},
		{"/", nil, 0, "busy", 1},
		{"/slow", []string{"--retry", "2", "-t", "300ms"}, 0, "ok", 3},
		{"/404", []string{"--retry", "3"}, 0, "nope", 1},
		{"/after", []string{"--retry", "1"}, 0, "ok", 2}, // after the 1 s Retry-After asks
	} {
		seen.Store(0)
		args := append([]string{"get", "--retry-delay", "10ms"}, tc.args...)
		out, errOut, code := cli(t, append(args, base+tc.path)...)
		if code != tc.code || out != tc.out || seen.Load() != tc.attempts {
			t.Errorf("%s %q: exit %d %q, %d attempts; want %d %q, %d\n%s", tc.path, tc.args, code, out, seen.Load(), tc.code, tc.out, tc.attempts, errOut)
		}
		if warnings := strings.Count(errOut, "warning: get:"); warnings != int(tc.attempts)-1 {
			t.Errorf("%s %q: %d retry warnings\n%s", tc.path, tc.args, warnings, errOut)
		}
		if wait := "in 10ms\n"; tc.path == "/after" {
			if wait = "in 1s\n"; !strings.Contains(errOut, wait) {
				t.Errorf("Retry-After: %q", errOut)
			}
		} else if tc.attempts > 1 && !strings.Contains(errOut, wait) {
			t.Errorf("--retry-delay: %q", errOut)
		}
	}
	// Connection refused is retried only with --retry-connrefused; -s
	// keeps the warnings quiet.
	dead := "http://" + testkit.ClosedAddr(t) + "/"
	_, errOut, code := cli(t, "get", "--retry", "2", "--retry-delay", "10ms", dead)
	if code != 7 || strings.Contains(errOut, "warning") {
		t.Errorf("refused: exit %d\n%s", code, errOut)
	}
	_, errOut, code = cli(t, "get", "--retry", "2", "--retry-delay", "10ms", "--retry-connrefused", dead)
	if code != 7 || strings.Count(errOut, "warning: get: cannot connect") != 2 {
		t.Errorf("--retry-connrefused: exit %d\n%s", code, errOut)
	}
	_, errOut, _ = cli(t, "get", "-s", "--retry", "2", "--retry-delay", "10ms", "--retry-connrefused", dead)
	if errOut != "" {
		t.Errorf("-s: %q", errOut)
	}
	// --retry-max-time bounds them all: no retry starts after it.
	failFirst.Store(1000)
	seen.Store(0)
	start := time.Now()
	_, _, code = cli(t, "get", "--retry", "50", "--retry-delay", "100ms", "--retry-max-time", "250ms", base+"/")
	if n := seen.Load(); code != 0 || n < 1 || n > 3 || time.Since(start) > 20*time.Second {
		t.Errorf("--retry-max-time: exit %d after %d attempts", code, n)
	}
}
