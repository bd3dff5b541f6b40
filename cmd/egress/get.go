package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/http2"
)

const defaultGetTimeout = 30 * time.Second

type getCmd struct {
	e        *env
	method   string
	headers  []string
	data     string
	dataFile string
	output   string
	timeout  time.Duration
	verbose  bool
	follow   bool
	fail     bool
	tls      tlsFlags
	proto    protoFlags
}

func newGet(e *env) *cobra.Command {
	g := &getCmd{e: e}
	cmd := &cobra.Command{
		Use:   "get URL",
		Short: "Make one request, like curl, and stream the body to stdout or a file",
		Long: `Make one request through the egress transport and stream the response body to
stdout (or -o FILE) in bounded memory, whatever its size.

-v prints the request and response heads and a timing breakdown (DNS,
connect, TLS, first byte, total) from the transport's httptrace hooks on
stderr, with the protocol the response came in (HTTP/1.1 or HTTP/2.0),
the one TLS's ALPN picked and, over HTTP/2, the server's SETTINGS. Like
curl, any HTTP status is a success unless -f is given.

Protocol: https offers HTTP/2 by ALPN and falls back to HTTP/1.1 if the
server does not pick it (--http2, the default); --http2-prior-knowledge
speaks HTTP/2 in plain text (h2c) on http:// URLs; --http1.1 never speaks
HTTP/2. Without --http2-prior-knowledge, http:// URLs speak HTTP/1.1
(there is no Upgrade: h2c).`,
		Example: `  egress get http://127.0.0.1:8080/
  egress get -v -o big.bin http://host/bytes/1000000000
  egress get -X POST -H 'Content-Type: text/plain' -d hello http://host/echo
  egress get --http2-prior-knowledge -v http://127.0.0.1:8080/
  egress get --cacert ca.pem --cert me.pem --key me.key https://host/`,
		Args: argsRange(1, 1, "a URL"),
		RunE: g.run,
	}
	fs := cmd.Flags()
	fs.StringVarP(&g.method, "method", "X", "", "request method (default GET, or POST with data)")
	fs.StringArrayVarP(&g.headers, "header", "H", nil, "request header \"Name: value\" (repeatable)")
	fs.StringVarP(&g.data, "data", "d", "", "request body; @FILE reads it from a file")
	fs.StringVar(&g.dataFile, "data-file", "", "stream the request body from `file`")
	fs.StringVarP(&g.output, "output", "o", "", "write the body to `file` instead of stdout")
	fs.DurationVarP(&g.timeout, "timeout", "t", defaultGetTimeout, "bound on the whole request, body included")
	fs.BoolVarP(&g.verbose, "verbose", "v", false, "print heads and a timing breakdown on stderr")
	fs.BoolVarP(&g.follow, "location", "L", false, "follow redirects")
	fs.BoolVarP(&g.fail, "fail", "f", false, "exit 1 on an HTTP status of 400 or more")
	g.tls.add(fs)
	g.proto.add(fs)
	return cmd
}

func (g *getCmd) run(cmd *cobra.Command, args []string) error {
	u, err := checkURL(args[0])
	if err != nil {
		return err
	}
	switch {
	case g.timeout <= 0:
		return usagef("get: -t/--timeout must be positive")
	case g.data != "" && g.dataFile != "":
		return usagef("get: -d/--data and --data-file exclude each other")
	}
	if strings.HasPrefix(g.data, "@") {
		g.dataFile, g.data = g.data[1:], ""
	}
	method := g.method
	if method == "" {
		method = http.MethodGet
		if g.data != "" || g.dataFile != "" {
			method = http.MethodPost
		}
	}
	if err := checkMethod(method); err != nil {
		return err
	}
	fields, err := parseHeaders(g.headers)
	if err != nil {
		return err
	}
	tlsCfg, err := g.tls.config()
	if err != nil {
		return err
	}
	h2, err := g.proto.options("get")
	if err != nil {
		return err
	}

	var body io.Reader
	var length int64
	if g.data != "" {
		body, length = strings.NewReader(g.data), int64(len(g.data))
	} else if g.dataFile != "" {
		f, err := os.Open(g.dataFile)
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		body, length = f, st.Size()
	}

	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	defer cancel()
	tm := &timing{start: time.Now()}
	ctx = httptrace.WithClientTrace(ctx, tm.trace())
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return usagef("get: %v", err)
	}
	req.ContentLength = length
	for _, f := range fields {
		if strings.EqualFold(f.Name, "Host") {
			req.Host = f.Value // net/http takes the Host from here, not the header
			continue
		}
		req.Header.Add(f.Name, f.Value)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "egress/"+version())
	}

	tr, err := egress.NewTransport(egress.Options{TLSClientConfig: tlsCfg, DisableCompression: true, HTTP2: h2})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	defer tr.Close()
	client := &http.Client{Transport: tr}
	if !g.follow {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	resp, err := client.Do(req)
	if g.verbose {
		// The request head is printed once the response tells which
		// protocol carried it (ALPN may pick either on https).
		version := "HTTP/1.1"
		if h2.PriorKnowledge && u.Scheme == "http" {
			version = "HTTP/2"
		}
		if resp != nil && resp.ProtoMajor == 2 {
			version = "HTTP/2"
		}
		printRequest(g.e.stderr, req, version)
	}
	if err != nil {
		return fmt.Errorf("get: %w", g.cause(err))
	}
	defer resp.Body.Close()
	if g.verbose {
		printResponse(g.e.stderr, resp)
		tm.setProto(resp.Proto)
		if resp.ProtoMajor == 2 {
			for _, st := range tr.HTTP2Settings(ctx) {
				printSettings(g.e.stderr, st)
			}
		}
	}

	out := g.e.stdout
	var file *os.File
	if g.output != "" && g.output != "-" {
		if file, err = os.Create(g.output); err != nil {
			return fmt.Errorf("get: %w", err)
		}
		out = file
	}
	// io.Copy moves the body through a 32 KiB buffer: memory stays bounded
	// whatever the size, and the transport's window holds back the socket
	// when the output is slower.
	n, copyErr := io.Copy(out, resp.Body)
	tm.mark(&tm.end)
	if file != nil {
		if err := file.Close(); err != nil && copyErr == nil {
			copyErr = err
		}
	}
	if g.verbose {
		tm.print(g.e.stderr, n)
	}
	if copyErr != nil {
		return fmt.Errorf("get: reading the body after %d bytes: %w", n, g.cause(copyErr))
	}
	if g.fail && resp.StatusCode >= 400 {
		return fmt.Errorf("get: %s answered %s", u.Redacted(), resp.Status)
	}
	return nil
}

// cause drops url.Error's `Get "http://..."` prefix, which the one-line
// message does not need, and names a timeout as such.
func (g *getCmd) cause(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %v (-t)", g.timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	// The transport's RequestError repeats the method and URL too.
	var re *egress.RequestError
	if errors.As(err, &re) {
		err = re.Err
	}
	return err
}

func printRequest(w io.Writer, req *http.Request, version string) {
	fmt.Fprintf(w, "> %s %s %s\n", req.Method, req.URL.RequestURI(), version)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	fmt.Fprintf(w, "> Host: %s\n", host)
	printHeader(w, "> ", req.Header)
	if req.ContentLength > 0 {
		fmt.Fprintf(w, "> Content-Length: %d\n", req.ContentLength)
	}
	fmt.Fprintln(w, ">")
}

func printResponse(w io.Writer, resp *http.Response) {
	fmt.Fprintf(w, "< %s %s\n", resp.Proto, resp.Status)
	printHeader(w, "< ", resp.Header)
	// net/http moves Transfer-Encoding out of the header; egress keeps it.
	if len(resp.TransferEncoding) > 0 && resp.Header.Get("Transfer-Encoding") == "" {
		fmt.Fprintf(w, "< Transfer-Encoding: %s\n", strings.Join(resp.TransferEncoding, ", "))
	}
	fmt.Fprintln(w, "<")
}

// printSettings writes the SETTINGS in effect on an HTTP/2 connection, as
// the server set them (the protocol's defaults where it named none).
func printSettings(w io.Writer, s http2.PeerSettings) {
	limit := func(v uint32, none uint32) string {
		if v == none {
			return "unlimited"
		}
		return strconv.FormatUint(uint64(v), 10)
	}
	fmt.Fprintf(w, "* server SETTINGS: MAX_CONCURRENT_STREAMS %s, INITIAL_WINDOW_SIZE %d, MAX_FRAME_SIZE %d, "+
		"MAX_HEADER_LIST_SIZE %s, HEADER_TABLE_SIZE %d\n",
		limit(s.MaxConcurrentStreams, math.MaxUint32), s.InitialWindowSize, s.MaxFrameSize,
		limit(s.MaxHeaderListSize, 0), s.HeaderTableSize)
}

func printHeader(w io.Writer, prefix string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(w, "%s%s: %s\n", prefix, k, v)
		}
	}
}

// timing collects the httptrace events of a request. Hooks may fire on
// the transport's goroutines, hence the lock.
type timing struct {
	mu                    sync.Mutex
	start, end            time.Time
	dnsStart, dnsDone     time.Time
	connStart, connDone   time.Time
	tlsStart, tlsDone     time.Time
	gotConn, wrote, first time.Time
	reused                bool
	remote                string
	tlsVersion, tlsCipher string
	alpn                  string // the protocol TLS's ALPN picked
	proto                 string // the response's
}

func (t *timing) setProto(p string) {
	t.mu.Lock()
	t.proto = p
	t.mu.Unlock()
}

func (t *timing) mark(at *time.Time) {
	t.mu.Lock()
	if at.IsZero() {
		*at = time.Now()
	}
	t.mu.Unlock()
}

func (t *timing) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { t.mark(&t.dnsStart) },
		DNSDone:           func(httptrace.DNSDoneInfo) { t.mark(&t.dnsDone) },
		ConnectStart:      func(string, string) { t.mark(&t.connStart) },
		ConnectDone:       func(string, string, error) { t.mark(&t.connDone) },
		TLSHandshakeStart: func() { t.mark(&t.tlsStart) },
		TLSHandshakeDone: func(cs tls.ConnectionState, _ error) {
			t.mark(&t.tlsDone)
			t.mu.Lock()
			t.tlsVersion, t.tlsCipher = tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite)
			t.alpn = cs.NegotiatedProtocol
			t.mu.Unlock()
		},
		GotConn: func(i httptrace.GotConnInfo) {
			t.mark(&t.gotConn)
			t.mu.Lock()
			t.reused = i.Reused
			if i.Conn != nil && i.Conn.RemoteAddr() != nil {
				t.remote = i.Conn.RemoteAddr().String()
			}
			t.mu.Unlock()
		},
		WroteRequest:         func(httptrace.WroteRequestInfo) { t.mark(&t.wrote) },
		GotFirstResponseByte: func() { t.mark(&t.first) },
	}
}

// print writes the timing breakdown: a line for each phase whose hooks
// fired, each from the start of the request unless it is a span.
func (t *timing) print(w io.Writer, n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	span := func(a, b time.Time) string { return fmtDur(b.Sub(a)) }
	since := func(b time.Time) string { return fmtDur(b.Sub(t.start)) }
	if !t.gotConn.IsZero() {
		how := "new connection"
		if t.reused {
			how = "reused connection"
		}
		if t.remote != "" {
			how += " to " + t.remote
		}
		fmt.Fprintf(w, "* %s\n", how)
	}
	if !t.dnsStart.IsZero() && !t.dnsDone.IsZero() {
		fmt.Fprintf(w, "* dns          %s\n", span(t.dnsStart, t.dnsDone))
	}
	if !t.connStart.IsZero() && !t.connDone.IsZero() {
		fmt.Fprintf(w, "* connect      %s\n", span(t.connStart, t.connDone))
	}
	if !t.tlsStart.IsZero() && !t.tlsDone.IsZero() {
		alpn := t.alpn
		if alpn == "" {
			alpn = "none"
		}
		fmt.Fprintf(w, "* tls          %s  %s %s, ALPN %s\n", span(t.tlsStart, t.tlsDone), t.tlsVersion, t.tlsCipher, alpn)
	}
	if t.proto != "" {
		fmt.Fprintf(w, "* protocol     %s\n", t.proto)
	}
	if !t.gotConn.IsZero() {
		fmt.Fprintf(w, "* connection   %s after start\n", since(t.gotConn))
	}
	if !t.wrote.IsZero() {
		fmt.Fprintf(w, "* sent         %s after start\n", since(t.wrote))
	}
	if !t.first.IsZero() {
		fmt.Fprintf(w, "* first byte   %s after start\n", since(t.first))
	}
	fmt.Fprintf(w, "* total        %s, %d body bytes\n", since(t.end), n)
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%8.3f ms", float64(d)/float64(time.Millisecond))
}
