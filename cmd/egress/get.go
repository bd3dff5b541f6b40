package main

import (
	"compress/gzip"
	"compress/zlib"
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
	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http2"
)

const (
	defaultGetTimeout = 30 * time.Second
	defaultMaxRedirs  = 50 // curl's
)

type getCmd struct {
	e            *env
	method       string
	headers      []string
	data         string
	dataFile     string
	output       string
	timeout      time.Duration
	verbose      bool
	follow       bool
	maxRedirs    int
	fail         bool
	include      bool
	head         bool
	silent       bool
	showError    bool
	writeOut     string
	resolve      []string
	compressed   bool
	agent        string
	user         string
	ipv4, ipv6   bool
	proxy        string
	noProxy      string
	retry        int
	retryWait    time.Duration
	retryMax     time.Duration
	retryRefused bool
	tls          tlsFlags
	proto        protoFlags
}

func newGet(e *env) *cobra.Command {
	g := &getCmd{e: e}
	cmd := &cobra.Command{
		Use:   "get URL",
		Short: "Make one request, like curl, and stream the body to stdout or a file",
		Long: `Make one request through the egress transport and stream the response body to
stdout (or -o FILE) in bounded memory, whatever its size. The flags are curl's.

-v prints on stderr each hop's request and response heads (every redirect
with -L), then a timing breakdown (DNS, connect, TLS, first byte, total)
from the transport's httptrace hooks, with the protocol the response came
in (HTTP/1.1 or HTTP/2.0), the one TLS's ALPN picked and, over HTTP/2, the
server's SETTINGS. -i writes the response heads on stdout before the body,
-I asks for the head alone (HEAD). Like curl, any HTTP status is a success
unless -f is given; then a status of 400 or more writes no body and exits
22.

-w FORMAT writes FORMAT on stdout once the request is over, failed or not,
with %{variable} replaced: time_namelookup, time_connect, time_appconnect,
time_pretransfer, time_starttransfer, time_redirect and time_total (seconds
from the start), http_code, http_version, size_download (bytes received,
compressed ones with --compressed), speed_download (bytes/s), size_upload,
num_redirects, url, url_effective, method, scheme, content_type,
remote_ip, remote_port, exitcode, errormsg. \n, \t, \r escapes; %% is %;
@FILE reads the format from a file.

Proxies: -x/--proxy, or else http_proxy, https_proxy and all_proxy from the
environment (upper case too), except for hosts in --noproxy or no_proxy
(names match their subdomains; addresses and CIDR prefixes; * for all).
Proxies from the environment are not used for loopback hosts. http://
proxies only: plain http is sent to them as is, https through CONNECT.

--retry N makes up to N more attempts after a transient failure, as curl:
a timeout, a name that did not resolve, HTTP 408, 429, 500, 502, 503 or
504 (and a refused connection with --retry-connrefused). It waits one
second, then twice as long each time (at most 10 minutes), or
--retry-delay, or what the server's Retry-After asks; -t bounds each
attempt; --retry-max-time bounds them all. The body of a response that is
retried is not written; a failure after body bytes went to stdout is not
retried (with -o, the file starts over).

Protocol: https offers HTTP/2 by ALPN and falls back to HTTP/1.1 if the
server does not pick it (--http2, the default); --http2-prior-knowledge
speaks HTTP/2 in plain text (h2c) on http:// URLs; --http1.1 never speaks
HTTP/2. Without --http2-prior-knowledge, http:// URLs speak HTTP/1.1
(there is no Upgrade: h2c).

` + getExitCodesDocument,
		Example: `  egress get http://127.0.0.1:8080/
  egress get -v -o big.bin http://host/bytes/1000000000
  egress get -X POST -H 'Content-Type: text/plain' -d hello http://host/echo
  egress get -sS -o /dev/null -w '%{http_code} %{time_starttransfer} %{time_total}\n' https://host/
  egress get -L --retry 3 -f -u user:secret https://host/api
  egress get --resolve api.example:443:127.0.0.1 https://api.example/
  egress get -x 127.0.0.1:3128 http://host/
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
	fs.DurationVarP(&g.timeout, "timeout", "t", defaultGetTimeout, "bound on each attempt, body included")
	fs.BoolVarP(&g.verbose, "verbose", "v", false, "print every hop's heads and a timing breakdown on stderr")
	fs.BoolVarP(&g.follow, "location", "L", false, "follow redirects")
	fs.IntVar(&g.maxRedirs, "max-redirs", defaultMaxRedirs, "with -L, fail (exit 47) after this many redirects; -1 for no limit")
	fs.BoolVarP(&g.fail, "fail", "f", false, "on an HTTP status of 400 or more, write no body and exit 22")
	fs.BoolVarP(&g.include, "include", "i", false, "write the response heads on stdout before the body")
	fs.BoolVarP(&g.head, "head", "I", false, "send HEAD and write the response heads on stdout")
	fs.BoolVarP(&g.silent, "silent", "s", false, "print no error message or warning (the exit status still tells)")
	fs.BoolVarP(&g.showError, "show-error", "S", false, "with -s, print the error message all the same")
	fs.StringVarP(&g.writeOut, "write-out", "w", "", "write `format` on stdout at the end, with %{variables} (see above)")
	fs.StringArrayVar(&g.resolve, "resolve", nil, "connect to `host:port:addr` for host:port instead of resolving it (repeatable)")
	fs.BoolVar(&g.compressed, "compressed", false, "ask for a gzip or deflate body and write it decoded")
	fs.StringVarP(&g.agent, "user-agent", "A", "", "User-Agent to send (default egress/VERSION)")
	fs.StringVarP(&g.user, "user", "u", "", "`user:password` for basic authentication")
	fs.BoolVarP(&g.ipv4, "ipv4", "4", false, "connect over IPv4 only")
	fs.BoolVarP(&g.ipv6, "ipv6", "6", false, "connect over IPv6 only")
	fs.StringVarP(&g.proxy, "proxy", "x", "", "http proxy `[http://][user:password@]host[:port]` for every URL")
	fs.StringVar(&g.noProxy, "noproxy", "", "`hosts` (comma-separated) to reach without a proxy; overrides no_proxy")
	fs.IntVar(&g.retry, "retry", 0, "retry up to `N` times after a transient failure (see above)")
	fs.DurationVar(&g.retryWait, "retry-delay", 0, "wait this long before each retry instead of backing off")
	fs.DurationVar(&g.retryMax, "retry-max-time", 0, "make no retry that would start after this long from the first attempt")
	fs.BoolVar(&g.retryRefused, "retry-connrefused", false, "with --retry, retry a refused connection too")
	g.tls.add(fs)
	g.proto.add(fs)
	return cmd
}

// getRun is what the attempts of one get share.
type getRun struct {
	u       *url.URL
	method  string
	fields  []egress.HeaderField
	tr      *egress.Transport
	h2      egress.HTTP2Options
	res     *getResolver
	px      *proxies
	out     *sink
	body    func() (io.ReadCloser, int64, error) // nil without a body
	started time.Time
}

func (g *getCmd) run(cmd *cobra.Command, args []string) error {
	err := g.get(cmd, args)
	var xe *exitError
	if g.silent && !g.showError && errors.As(err, &xe) {
		xe.quiet = true
	}
	return err
}

func (g *getCmd) get(cmd *cobra.Command, args []string) error {
	u, err := getURL(args[0])
	if err != nil {
		return err
	}
	switch {
	case g.timeout <= 0:
		return usagef("get: -t/--timeout must be positive")
	case g.data != "" && g.dataFile != "":
		return usagef("get: -d/--data and --data-file exclude each other")
	case g.ipv4 && g.ipv6:
		return usagef("get: -4 and -6 exclude each other")
	case g.retry < 0:
		return usagef("get: --retry must not be negative")
	case g.retryWait < 0 || g.retryMax < 0:
		return usagef("get: --retry-delay and --retry-max-time must not be negative")
	case g.maxRedirs < -1:
		return usagef("get: --max-redirs must be -1 (no limit) or more")
	case g.head && (g.data != "" || g.dataFile != ""):
		return usagef("get: -I/--head sends HEAD, which takes no -d/--data")
	case g.head && g.method != "" && g.method != http.MethodHead:
		return usagef("get: -I/--head sends HEAD, not %s", g.method)
	case g.user != "" && !strings.Contains(g.user, ":"):
		return usagef("get: -u/--user wants user:password")
	}
	if strings.HasPrefix(g.data, "@") {
		g.dataFile, g.data = g.data[1:], ""
	}
	r := &getRun{u: u, method: g.method, started: time.Now()}
	if r.method == "" {
		r.method = http.MethodGet
		if g.head {
			r.method = http.MethodHead
		} else if g.data != "" || g.dataFile != "" {
			r.method = http.MethodPost
		}
	}
	if err := checkMethod(r.method); err != nil {
		return err
	}
	if r.fields, err = parseHeaders(g.headers); err != nil {
		return err
	}
	var wo writeOut
	if g.writeOut != "" {
		if wo, err = parseWriteOut(g.writeOut); err != nil {
			return err
		}
	}
	tlsCfg, err := g.tls.config()
	if err != nil {
		return err
	}
	if r.h2, err = g.proto.options("get"); err != nil {
		return err
	}
	var noProxy *string
	if cmd.Flags().Changed("noproxy") {
		noProxy = &g.noProxy
	}
	if r.px, err = newProxies(g.proxy, noProxy); err != nil {
		return err
	}
	family := 0
	if g.ipv4 {
		family = 4
	} else if g.ipv6 {
		family = 6
	}
	if r.res, err = newGetResolver(g.resolve, family); err != nil {
		return err
	}
	defer r.res.Close()
	if r.body, err = g.bodySource(); err != nil {
		return err
	}

	// One loop is plenty for one request at a time; the engine asks get's
	// resolver for names (--resolve, -4/-6).
	eng, err := engine.New(engine.Config{Loops: 1, Resolver: r.res})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	defer eng.Close()
	r.tr, err = egress.NewTransport(egress.Options{Engine: eng, TLSClientConfig: tlsCfg, DisableCompression: true,
		HTTP2: r.h2, Proxy: r.px.proxyFunc})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	defer r.tr.Close()
	r.out = &sink{w: g.e.stdout, path: g.output}

	var x *transfer
	var fail *exitError
	for n := 0; ; n++ {
		// plan says whether a retry may follow this attempt, and after
		// how long: the server's Retry-After if it gave one.
		plan := func(after time.Duration) (time.Duration, bool) {
			if n >= g.retry {
				return 0, false
			}
			d := g.retryDelay(n)
			if after > 0 {
				d = min(after, maxRetryDelay)
			}
			if g.retryMax > 0 && time.Since(r.started)+d > g.retryMax {
				return 0, false
			}
			return d, true
		}
		var wait time.Duration
		var again bool
		x, fail, wait, again = g.attempt(cmd.Context(), r, plan)
		if !again || !r.out.reset() {
			break
		}
		if !g.silent {
			fmt.Fprintf(g.e.stderr, "warning: get: %s; retry %d of %d in %v\n", strings.TrimPrefix(x.errMsg, "get: "), n+1, g.retry, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
			continue
		case <-cmd.Context().Done():
			t.Stop()
		}
		fail = &exitError{code: exitFailed, err: fmt.Errorf("get: interrupted before retry %d: %w", n+1, cmd.Context().Err())}
		break
	}
	if err := r.out.close(); err != nil && fail == nil {
		fail = &exitError{code: getExitWrite, err: fmt.Errorf("get: writing %s: %w", g.output, err)}
	}
	if wo != nil {
		if fail != nil {
			x.exitCode, x.errMsg = fail.code, strings.TrimPrefix(fail.Error(), "get: ")
		} else {
			x.exitCode, x.errMsg = 0, ""
		}
		wo.write(g.e.stdout, x)
	}
	if fail != nil {
		return fail
	}
	return nil
}

// bodySource returns what opens the request body for each attempt (and
// for a 307 or 308 redirect), or nil when there is none.
func (g *getCmd) bodySource() (func() (io.ReadCloser, int64, error), error) {
	switch {
	case g.data != "":
		data := g.data
		return func() (io.ReadCloser, int64, error) {
			return io.NopCloser(strings.NewReader(data)), int64(len(data)), nil
		}, nil
	case g.dataFile != "":
		name := g.dataFile
		open := func() (io.ReadCloser, int64, error) {
			f, err := os.Open(name)
			if err != nil {
				return nil, 0, err
			}
			st, err := f.Stat()
			if err != nil {
				f.Close()
				return nil, 0, err
			}
			return f, st.Size(), nil
		}
		// Fail before connecting if the file cannot be read.
		f, _, err := open()
		if err != nil {
			return nil, &exitError{code: getExitRead, err: fmt.Errorf("get: request body: %w", err)}
		}
		f.Close()
		return open, nil
	}
	return nil, nil
}

// attempt makes the request once, following redirects with -L, and
// writes what it got. again reports that a retry should follow after
// wait (plan agreed to it).
func (g *getCmd) attempt(parent context.Context, r *getRun, plan func(after time.Duration) (time.Duration, bool)) (x *transfer, fail *exitError, wait time.Duration, again bool) {
	ctx, cancel := context.WithTimeout(parent, g.timeout)
	defer cancel()
	tm := &timing{start: time.Now()}
	x = &transfer{method: r.method, url: r.u.String(), effective: r.u.String(), tm: tm}
	defer func() {
		tm.mark(&tm.end)
		x.remote = tm.remoteAddr()
		if fail != nil {
			x.exitCode, x.errMsg = fail.code, fail.Error()
		}
	}()
	ctx = httptrace.WithClientTrace(ctx, tm.trace())
	hops := &hopTransport{g: g, r: r, tm: tm, x: x}
	ctx = egress.WithResponseFields(ctx, hops.gotFields)
	var body io.ReadCloser
	var length int64
	if r.body != nil {
		var err error
		if body, length, err = r.body(); err != nil {
			return x, &exitError{code: getExitRead, err: fmt.Errorf("get: request body: %w", err)}, 0, false
		}
		x.uploaded = length
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.u.String(), body)
	if err != nil {
		return x, &exitError{code: getExitURL, err: fmt.Errorf("get: %w", err)}, 0, false
	}
	if r.body != nil {
		req.ContentLength = length
		req.GetBody = func() (io.ReadCloser, error) {
			b, _, err := r.body()
			return b, err
		}
	}
	g.setHeaders(req, r.fields)

	client := &http.Client{Transport: hops, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		switch {
		case !g.follow:
			return http.ErrUseLastResponse
		case g.maxRedirs >= 0 && len(via) > g.maxRedirs:
			return errTooManyRedirects
		}
		return nil
	}}
	resp, err := client.Do(req)
	if len(hops.heads) > 0 {
		x.redirects = len(hops.heads) - 1
	}
	if err != nil {
		fail = g.getFailure(err, hops.proxied)
		if g.retryable(fail.code, err) {
			if wait, again = plan(0); again {
				return x, fail, wait, true
			}
		}
		return x, fail, 0, false
	}
	defer resp.Body.Close()
	if retryableStatus(resp.StatusCode) {
		if wait, again = plan(retryAfter(resp)); again {
			return x, &exitError{code: exitFailed, err: fmt.Errorf("get: HTTP %s", resp.Status)}, wait, true
		}
	}
	if g.include || g.head {
		for _, h := range hops.heads {
			writeHead(r.out, h, hops.fields[h])
		}
	}
	if g.verbose && resp.ProtoMajor == 2 {
		for _, st := range r.tr.HTTP2Settings(ctx) {
			printSettings(g.e.stderr, st)
		}
	}
	if g.fail && resp.StatusCode >= 400 {
		return x, &exitError{code: getExitHTTP, err: fmt.Errorf("get: %s answered %s", redacted(resp.Request.URL), resp.Status)}, 0, false
	}

	raw := &countingReader{r: resp.Body}
	var rd io.Reader = raw
	if g.compressed && r.method != http.MethodHead {
		if rd, err = decoder(resp, raw); err != nil {
			return x, &exitError{code: getExitEncoding, err: fmt.Errorf("get: %w", err)}, 0, false
		}
	}
	// io.Copy moves the body through a 32 KiB buffer: memory stays bounded
	// whatever the size, and the transport's window holds back the socket
	// when the output is slower.
	_, copyErr := io.Copy(r.out, rd)
	x.downloaded = raw.n
	tm.mark(&tm.end)
	if g.verbose {
		tm.print(g.e.stderr, raw.n)
	}
	switch {
	case copyErr == nil:
		return x, nil, 0, false
	case r.out.err != nil:
		return x, &exitError{code: getExitWrite, err: fmt.Errorf("get: writing the body: %w", r.out.err)}, 0, false
	case raw.err == nil:
		return x, &exitError{code: getExitEncoding, err: fmt.Errorf("get: decoding the %s body: %w", resp.Header.Get("Content-Encoding"), copyErr)}, 0, false
	}
	fail = g.bodyFailure(raw.err, raw.n)
	if g.retryable(fail.code, raw.err) {
		if wait, again = plan(0); again {
			return x, fail, wait, true
		}
	}
	return x, fail, 0, false
}

// setHeaders sets the request's fields: -H's, then -A, -u and
// --compressed's where -H did not set the same field.
func (g *getCmd) setHeaders(req *http.Request, fields []egress.HeaderField) {
	for _, f := range fields {
		if strings.EqualFold(f.Name, "Host") {
			req.Host = f.Value // net/http takes the Host from here, not the header
			continue
		}
		req.Header.Add(f.Name, f.Value)
	}
	if req.Header.Get("User-Agent") == "" {
		ua := g.agent
		if ua == "" {
			ua = "egress/" + version()
		}
		req.Header.Set("User-Agent", ua)
	}
	if g.user != "" && req.Header.Get("Authorization") == "" {
		user, pass, _ := strings.Cut(g.user, ":")
		req.SetBasicAuth(user, pass)
	}
	if g.compressed && req.Header.Get("Accept-Encoding") == "" {
		req.Header.Set("Accept-Encoding", "gzip, deflate")
	}
}

// getURL checks get's URL, with curl's exit codes: 3 for a malformed one,
// with a hint when it lacks a scheme (curl would guess http), and 1 for a
// scheme other than http or https.
func getURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		guess := "http://" + raw
		if !strings.Contains(raw, "/") {
			guess += "/"
		}
		if u, err := url.Parse(guess); err == nil && u.Hostname() != "" && !strings.ContainsAny(raw, " \t") {
			return nil, &exitError{code: getExitURL, err: fmt.Errorf("get: no scheme in %q: did you mean %s?", raw, guess)}
		}
		return nil, &exitError{code: getExitURL, err: fmt.Errorf("get: bad URL %q: it needs http:// or https://", raw)}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &exitError{code: getExitURL, err: fmt.Errorf("get: bad URL %q: %v", raw, errorsTail(err))}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, &exitError{code: getExitProtocol, err: fmt.Errorf("get: bad URL %q: the scheme must be http or https", raw)}
	}
	if u.Hostname() == "" {
		return nil, &exitError{code: getExitURL, err: fmt.Errorf("get: bad URL %q: no host", raw)}
	}
	return u, nil
}

func redacted(u *url.URL) string { return u.Redacted() }

// hopTransport is the client's transport for one attempt: it sees every
// hop (each redirect), prints it with -v, keeps its head for -i, points
// --resolve at its port and checks -4/-6 on an IP literal.
type hopTransport struct {
	g       *getCmd
	r       *getRun
	tm      *timing
	x       *transfer
	heads   []*http.Response
	proxied bool // the last hop was to go through a proxy

	mu      sync.Mutex
	pending []egress.HeaderField // the last final head's fields, in order
	fields  map[*http.Response][]egress.HeaderField
}

// gotFields keeps the fields of each final head in the order received,
// which http.Header loses (see egress.WithResponseFields). It runs on the
// transport's loop.
func (h *hopTransport) gotFields(status int, fields []egress.HeaderField) {
	if status < 200 {
		return
	}
	h.mu.Lock()
	h.pending = append([]egress.HeaderField(nil), fields...)
	h.mu.Unlock()
}

func (h *hopTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	g, r := h.g, h.r
	h.x.effective = req.URL.String()
	h.tm.newHop()
	pu, from := r.px.forURL(req.URL)
	h.proxied = pu != nil
	port := req.URL.Port()
	if port == "" {
		port = "80"
		if req.URL.Scheme == "https" {
			port = "443"
		}
	}
	if pu != nil {
		if port = pu.Port(); port == "" {
			port = "80"
		}
	} else if err := r.res.checkFamily(req.URL.Hostname()); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	r.res.dialing(port)
	h.mu.Lock()
	h.pending = nil
	h.mu.Unlock()
	resp, err := r.tr.RoundTrip(req)
	var fields []egress.HeaderField
	if resp != nil {
		h.mu.Lock()
		fields = h.pending
		h.mu.Unlock()
		if fields == nil {
			fields = responseFields(resp)
		}
		if h.fields == nil {
			h.fields = map[*http.Response][]egress.HeaderField{}
		}
		h.fields[resp] = fields
	}
	if g.verbose {
		if pu != nil {
			fmt.Fprintf(g.e.stderr, "* proxy %s (%s)\n", pu.Redacted(), from)
		}
		// The request head is printed once the response tells which
		// protocol carried it (ALPN may pick either on https).
		version := "HTTP/1.1"
		if r.h2.PriorKnowledge && req.URL.Scheme == "http" && pu == nil {
			version = "HTTP/2"
		}
		if resp != nil && resp.ProtoMajor == 2 {
			version = "HTTP/2"
		}
		printRequest(g.e.stderr, req, version)
		if resp != nil {
			printResponse(g.e.stderr, resp, fields)
		}
	}
	if resp != nil {
		h.heads = append(h.heads, resp)
		x := h.x
		x.hasResponse = true
		x.status, x.protoMajor, x.protoMinor = resp.StatusCode, resp.ProtoMajor, resp.ProtoMinor
		x.contentType = resp.Header.Get("Content-Type")
		h.tm.setProto(resp.Proto)
	}
	return resp, err
}

// retryable tells whether a failure is transient in curl's sense.
func (g *getCmd) retryable(code int, err error) bool {
	switch code {
	case getExitTimeout, getExitResolve, getExitProxyResolve:
		return true
	case getExitConnect:
		return g.retryRefused && errors.Is(err, engine.ErrConnectRefused)
	}
	return false
}

// retryableStatus: the statuses curl's --retry retries.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter reads the Retry-After field of a 429 or 503, in seconds or
// as a date, as curl does; 0 when there is none.
func retryAfter(resp *http.Response) time.Duration {
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" || resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(min(n, int64(maxRetryDelay/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// decoder decodes a --compressed body by its Content-Encoding.
func decoder(resp *http.Response, raw io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))) {
	case "gzip", "x-gzip":
		return &lazyDecoder{open: func() (io.Reader, error) { return gzip.NewReader(raw) }}, nil
	case "deflate":
		return &lazyDecoder{open: func() (io.Reader, error) { return zlib.NewReader(raw) }}, nil
	case "", "identity":
		return raw, nil
	default:
		return nil, fmt.Errorf("content encoding %q is not one --compressed asked for", resp.Header.Get("Content-Encoding"))
	}
}

// lazyDecoder opens its decoder at the first read, so that reading the
// stream's header is a read like any other (an empty body, as for a 204,
// decodes to nothing).
type lazyDecoder struct {
	open func() (io.Reader, error)
	r    io.Reader
}

func (d *lazyDecoder) Read(p []byte) (int, error) {
	if d.r == nil {
		r, err := d.open()
		if err == io.EOF {
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		d.r = r
	}
	return d.r.Read(p)
}

// countingReader counts the body bytes received and keeps the transport's
// error apart from a decoder's.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// sink is where the body (and -i's heads) go: stdout, or a file created at
// the first write. It keeps its write error apart from the body's, and can
// start over for a retry if it is a file or nothing was written yet.
type sink struct {
	w    io.Writer
	path string
	f    *os.File
	n    int64
	err  error
}

func (s *sink) Write(p []byte) (int, error) {
	if s.path != "" && s.path != "-" && s.f == nil {
		f, err := os.Create(s.path)
		if err != nil {
			s.err = err
			return 0, err
		}
		s.f, s.w = f, f
	}
	n, err := s.w.Write(p)
	s.n += int64(n)
	if err != nil {
		s.err = err
	}
	return n, err
}

func (s *sink) reset() bool {
	if s.n == 0 {
		return true
	}
	if s.f == nil {
		return false
	}
	if err := s.f.Truncate(0); err != nil {
		return false
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return false
	}
	s.n = 0
	return true
}

func (s *sink) close() error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}

// writeHead writes a response head as -i and -I do, as curl: the status
// line and the fields, CRLF-terminated, then an empty line.
func writeHead(w io.Writer, resp *http.Response, fields []egress.HeaderField) {
	var b strings.Builder
	if resp.ProtoMajor == 2 {
		fmt.Fprintf(&b, "HTTP/2 %d\r\n", resp.StatusCode) // HTTP/2 has no reason phrase
	} else {
		fmt.Fprintf(&b, "%s %s\r\n", resp.Proto, resp.Status)
	}
	for _, f := range fields {
		fmt.Fprintf(&b, "%s: %s\r\n", f.Name, f.Value)
	}
	b.WriteString("\r\n")
	io.WriteString(w, b.String())
}

// responseFields lists a response's header fields sorted by name: for a
// response whose fields in order the transport did not report.
func responseFields(resp *http.Response) []egress.HeaderField {
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []egress.HeaderField
	for _, k := range keys {
		for _, v := range resp.Header[k] {
			out = append(out, egress.HeaderField{Name: k, Value: v})
		}
	}
	// net/http moves Transfer-Encoding out of the header; egress keeps it.
	if len(resp.TransferEncoding) > 0 && resp.Header.Get("Transfer-Encoding") == "" {
		out = append(out, egress.HeaderField{Name: "Transfer-Encoding", Value: strings.Join(resp.TransferEncoding, ", ")})
	}
	return out
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

func printResponse(w io.Writer, resp *http.Response, fields []egress.HeaderField) {
	fmt.Fprintf(w, "< %s %s\n", resp.Proto, resp.Status)
	for _, f := range fields {
		fmt.Fprintf(w, "< %s: %s\n", f.Name, f.Value)
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

// timing collects the httptrace events of an attempt. The phases are
// those of its last hop (each redirect starts them over), measured from
// the start of the attempt. Hooks may fire on the transport's goroutines,
// hence the lock.
type timing struct {
	mu                    sync.Mutex
	start, end            time.Time
	hopStart              time.Time
	hops                  int
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

// newHop starts the phases over for the next hop of a redirect chain.
func (t *timing) newHop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hopStart = time.Now()
	t.hops++
	var zero time.Time
	t.dnsStart, t.dnsDone, t.connStart, t.connDone, t.tlsStart, t.tlsDone = zero, zero, zero, zero, zero, zero
	t.gotConn, t.wrote, t.first = zero, zero, zero
	t.reused, t.remote, t.tlsVersion, t.tlsCipher, t.alpn, t.proto = false, "", "", "", "", ""
}

func (t *timing) remoteAddr() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.remote
}

// phaseTimes are -w's times: when each phase of the last hop ended, from
// the start of the attempt, as curl counts them. A phase the hop did not
// go through (no look-up for an IP address, no connect on a reused
// connection) ends when the one before it did; time_appconnect is 0
// without TLS.
type phaseTimes struct {
	namelookup, connect, appconnect, pretransfer, starttransfer, redirect, total time.Duration
}

func (t *timing) phases() phaseTimes {
	t.mu.Lock()
	defer t.mu.Unlock()
	since := func(at time.Time) time.Duration {
		if at.IsZero() {
			return 0
		}
		return at.Sub(t.start)
	}
	first := func(ts ...time.Time) time.Time {
		for _, at := range ts {
			if !at.IsZero() {
				return at
			}
		}
		return time.Time{}
	}
	var p phaseTimes
	if t.hops > 1 {
		p.redirect = t.hopStart.Sub(t.start)
	}
	p.namelookup = since(first(t.dnsDone, t.connStart, t.gotConn))
	p.connect = since(first(t.connDone, t.gotConn))
	p.appconnect = since(t.tlsDone)
	p.pretransfer = since(t.gotConn)
	p.starttransfer = since(t.first)
	end := t.end
	if end.IsZero() {
		end = time.Now()
	}
	p.total = end.Sub(t.start)
	return p
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
