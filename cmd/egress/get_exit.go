package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http1"
	"github.com/egress-go/egress/resolver"
	"github.com/egress-go/egress/tlsconn"
)

// get's exit codes: curl's numbers for the failures curl names, so that
// scripts written for curl read them alike. Any other failure exits 1,
// bad usage 2 (as for every command).
const (
	getExitProtocol      = 1  // a scheme other than http or https
	getExitURL           = 3  // malformed URL
	getExitProxyResolve  = 5  // the proxy's name did not resolve
	getExitResolve       = 6  // the host's name did not resolve
	getExitConnect       = 7  // could not connect (to the host or the proxy)
	getExitWeird         = 8  // the server's reply is not HTTP
	getExitPartial       = 18 // the body ended before its announced end
	getExitHTTP          = 22 // -f and a status of 400 or more
	getExitWrite         = 23 // the output could not be written
	getExitRead          = 26 // the request body's file could not be read
	getExitTimeout       = 28 // -t ran out, or a connect, handshake or lookup timed out
	getExitTLS           = 35 // the TLS handshake failed
	getExitRedirects     = 47 // more redirects than --max-redirs
	getExitEmpty         = 52 // the server closed without a byte of response
	getExitRecv          = 56 // receiving failed: reset, or the proxy refused a tunnel
	getExitCertificate   = 60 // the server's certificate did not verify
	getExitEncoding      = 61 // a --compressed body that does not decode
	getExitCodesDocument = `Exit status, curl's codes where curl has one:
  0   success (any HTTP status, unless -f)
  1   failure of another kind; a scheme other than http or https
  2   bad usage: flags or arguments
  3   malformed URL (one without http:// or https:// gets a hint)
  5   the proxy's host name did not resolve
  6   the host name did not resolve (or has no address of -4/-6's family)
  7   could not connect to the host or the proxy (refused, unreachable)
  8   the reply is not HTTP
  18  the body ended before its announced length
  22  -f and an HTTP status of 400 or more (no body is written)
  23  the output could not be written
  26  the request body's file could not be read
  28  timed out: -t, or a connect, TLS handshake or name look-up
  35  the TLS handshake failed
  47  more redirects than --max-redirs
  52  the server closed the connection without replying
  56  receiving failed (connection reset), or the proxy refused the tunnel
  60  the server's certificate did not verify (--cacert, or -k to skip)
  61  a --compressed body did not decode`
)

// errTooManyRedirects is what CheckRedirect returns past --max-redirs.
var errTooManyRedirects = errors.New("too many redirects")

// familyError: the host has no address of the family -4 or -6 asks for.
type familyError struct {
	host   string
	family int
}

func (e *familyError) Error() string {
	return fmt.Sprintf("no IPv%d address for %s (-%d)", e.family, e.host, e.family)
}

// getFailure classifies a failed request (before or while its response
// head arrived) into an exit code and a one-line message that says each
// thing once. proxied tells that the connection was to go through a proxy.
func (g *getCmd) getFailure(err error, proxied bool) *exitError {
	code, msg := g.classify(err, proxied)
	return &exitError{code: code, err: errors.New("get: " + msg)}
}

func (g *getCmd) classify(err error, proxied bool) (int, string) {
	var (
		dial   *engine.DialError
		hs     *tlsconn.HandshakeError
		verify *tlsconn.VerifyError
		perr   *egress.ProxyError
		res    *resolver.Error
		fam    *familyError
		proto  *http1.ProtocolError
		limit  *http1.LimitError
	)
	switch {
	case errors.Is(err, errTooManyRedirects):
		return getExitRedirects, fmt.Sprintf("stopped after %d redirects (--max-redirs)", g.maxRedirs)
	case errors.As(err, &fam):
		return getExitResolve, fam.Error()
	case errors.As(err, &perr):
		return getExitRecv, fmt.Sprintf("proxy %s refused the tunnel to %s: %d %s", perr.Proxy, perr.Target, perr.StatusCode, perr.Status)
	case errors.As(err, &verify):
		host := ""
		if errors.As(err, &hs) && hs.ServerName != "" {
			host = " of " + hs.ServerName
		}
		return getExitCertificate, fmt.Sprintf("the certificate%s did not verify (%s): %s; --cacert FILE trusts its CA, -k skips the check",
			host, verify.Reason, verify.Err)
	case errors.As(err, &hs):
		if hs.Timeout() {
			return getExitTimeout, "TLS handshake with " + hs.ServerName + " timed out"
		}
		return getExitTLS, "TLS handshake with " + hs.ServerName + " failed: " + reason(hs.Err)
	case errors.As(err, &res):
		what := "host"
		code := getExitResolve
		if proxied {
			what, code = "proxy", getExitProxyResolve
		}
		if res.Timeout() && !errors.Is(err, context.DeadlineExceeded) {
			return getExitTimeout, fmt.Sprintf("looking up %s %s timed out", what, res.Host)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return getExitTimeout, g.timedOut()
		}
		return code, fmt.Sprintf("cannot resolve %s %s: %s", what, res.Host, dnsReason(res))
	case errors.Is(err, context.DeadlineExceeded):
		return getExitTimeout, g.timedOut()
	case errors.As(err, &dial):
		to := dial.Address
		if dial.Addr.IsValid() && dial.Addr.String() != dial.Address {
			to += " (" + dial.Addr.String() + ")"
		}
		if proxied {
			to = "proxy " + to
		}
		if errors.Is(err, engine.ErrConnectTimeout) {
			return getExitTimeout, "connecting to " + to + " timed out"
		}
		if errors.Is(err, engine.ErrNoAddress) {
			return getExitResolve, "no address to connect to for " + to
		}
		return getExitConnect, "cannot connect to " + to + ": " + reason(dial.Err)
	case errors.As(err, &proto):
		return getExitWeird, "the reply is not valid HTTP: " + strings.TrimPrefix(proto.Error(), "http1: ")
	case errors.As(err, &limit):
		return getExitWeird, "the reply is not valid HTTP: " + strings.TrimPrefix(limit.Error(), "http1: ")
	case errors.Is(err, egress.ErrConnClosed) && errors.Is(err, engine.ErrPeerClosed):
		return getExitEmpty, "the server closed the connection without replying"
	case errors.Is(err, egress.ErrConnClosed), errors.Is(err, io.ErrUnexpectedEOF):
		return getExitRecv, "receiving the response failed: " + reason(err)
	case isTimeout(err):
		return getExitTimeout, reason(err)
	}
	return exitFailed, reason(err)
}

// bodyFailure classifies a failure while the body was read, after n bytes.
func (g *getCmd) bodyFailure(err error, n int64) *exitError {
	var tr *http1.TruncatedError
	code, msg := getExitRecv, fmt.Sprintf("receiving the body failed after %d bytes: %s", n, reason(err))
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		code, msg = getExitTimeout, fmt.Sprintf("%s, after %d body bytes", g.timedOut(), n)
	case errors.As(err, &tr):
		msg = fmt.Sprintf("the body ended after %d of %d bytes", tr.Got, tr.Expected)
		if tr.Expected < 0 {
			msg = fmt.Sprintf("the chunked body ended after %d bytes, without its last chunk", tr.Got)
		}
		code = getExitPartial
	case errors.Is(err, io.ErrUnexpectedEOF):
		code, msg = getExitPartial, fmt.Sprintf("the body ended early, after %d bytes", n)
	case isTimeout(err):
		code = getExitTimeout
	}
	return &exitError{code: code, err: errors.New("get: " + msg)}
}

func (g *getCmd) timedOut() string { return fmt.Sprintf("timed out after %v (-t)", g.timeout) }

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// reason is the cause of err in a few words, each said once. It looks
// for the engine's and the system's errors first: an engine error that
// carries an errno prints both ("connection refused (connection
// refused)"), and the wrappers on the way repeat the method, the URL and
// the address the message already names.
func reason(err error) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, engine.ErrConnectRefused):
		return "connection refused"
	case errors.Is(err, engine.ErrReset):
		return "connection reset by peer"
	case errors.Is(err, engine.ErrPeerClosed):
		return "connection closed by the server"
	case errors.Is(err, engine.ErrConnectTimeout):
		return "connect timed out"
	case errors.Is(err, io.ErrUnexpectedEOF):
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var re *egress.RequestError
		if errors.As(err, &re) {
			err = re.Err
		}
		return strings.TrimPrefix(err.Error(), "http1: ")
	case errors.As(err, &errno):
		return errno.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var re *egress.RequestError
	if errors.As(err, &re) {
		err = re.Err
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Err != nil {
		err = ne.Err
	}
	s := err.Error()
	for _, p := range []string{"egress: ", "tlsconn: ", "http1: ", "http2: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// dnsReason is a look-up's failure without the host, which the message
// names already.
func dnsReason(e *resolver.Error) string {
	var dns *net.DNSError
	var fam *familyError
	switch {
	case errors.As(e, &fam):
		return fam.Error()
	case errors.As(e.Err, &dns) && dns.Err != "":
		return dns.Err
	case errors.Is(e, resolver.ErrNotFound):
		return "no such host"
	}
	return reason(e.Err)
}

// retryDelay is the wait before retry number n (from 0): --retry-delay if
// set, else one second doubling each time, as curl waits, at most
// maxRetryDelay.
func (g *getCmd) retryDelay(n int) time.Duration {
	if g.retryWait > 0 {
		return g.retryWait
	}
	d := time.Second << min(n, 10)
	return min(d, maxRetryDelay)
}

const maxRetryDelay = 10 * time.Minute
