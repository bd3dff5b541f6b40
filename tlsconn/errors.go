package tlsconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/egress-go/egress/engine"
)

// Errors reported by the package. Handshake failures reach OnClose as a
// *HandshakeError wrapping one of these (or a *VerifyError or *AlertError);
// compare with errors.Is and errors.As.
var (
	// ErrHandshakeTimeout: the handshake, including the time it waited for
	// a free handshake worker, did not finish within the handshake timeout.
	ErrHandshakeTimeout error = &timeoutError{"tlsconn: TLS handshake timeout"}

	// ErrALPNMismatch: Config.RequireALPN was set and the server chose none
	// of the offered protocols (or refused them with the
	// no_application_protocol alert).
	ErrALPNMismatch = errors.New("tlsconn: server selected none of the offered ALPN protocols")

	// ErrCloseNotify is the OnClose reason when the peer ended the TLS
	// session with close_notify, the orderly close. It wraps
	// engine.ErrPeerClosed, so code that treats a peer's graceful close
	// alike for plain and TLS connections keeps working.
	ErrCloseNotify error = &wrapError{"tlsconn: peer sent close_notify", engine.ErrPeerClosed}

	// ErrTruncated is the OnClose reason when the peer closed the TCP
	// connection without close_notify. Data delivered so far is intact,
	// but the peer did not say it was complete: a close-delimited body
	// that ends this way may have been cut short. (crypto/tls and net/http
	// accept such an end at a record boundary; this package says what
	// happened and leaves the decision to the protocol above.) It does not
	// match engine.ErrPeerClosed.
	ErrTruncated = errors.New("tlsconn: connection closed without close_notify")

	// ErrKeyPassword: the private key is encrypted and the password given
	// does not decrypt it.
	ErrKeyPassword = errors.New("tlsconn: wrong password for encrypted private key")

	// ErrKeyEncrypted: the private key is encrypted and no password was
	// given (Config.KeyPassword).
	ErrKeyEncrypted = errors.New("tlsconn: private key is encrypted and no password was given")

	// ErrNoPEM: input that should hold PEM blocks held none of the kind
	// wanted.
	ErrNoPEM = errors.New("tlsconn: no PEM data found")
)

// HandshakeError is the OnClose reason when the TLS handshake failed. Err
// says why: ErrHandshakeTimeout, a *VerifyError, an *AlertError (the peer
// refused us), ErrALPNMismatch, engine.ErrPeerClosed (the peer closed the
// connection mid-handshake), or the error crypto/tls reported.
type HandshakeError struct {
	ServerName string // the name verified (client side); empty on a server
	Err        error
}

// Error describes the failure, naming the server.
func (e *HandshakeError) Error() string {
	s := "tlsconn: TLS handshake"
	if e.ServerName != "" {
		s += " with " + e.ServerName
	}
	return s + " failed: " + trimPrefix(e.Err)
}

// Unwrap returns the cause.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Timeout reports whether the handshake ran out of time, so that a
// *HandshakeError satisfies the Timeout part of net.Error.
func (e *HandshakeError) Timeout() bool { return errors.Is(e.Err, ErrHandshakeTimeout) }

// VerifyReason classifies a certificate verification failure.
type VerifyReason int

const (
	// VerifyOther is a failure not covered below (a VerifyConnection
	// callback's error, for one).
	VerifyOther VerifyReason = iota
	// VerifyUnknownAuthority: the chain does not lead to a trusted root.
	VerifyUnknownAuthority
	// VerifyHostname: the certificate is not valid for the server name.
	VerifyHostname
	// VerifyExpired: a certificate of the chain is expired or not yet valid.
	VerifyExpired
	// VerifyInvalid: a certificate of the chain is unusable for another
	// reason (not a CA, wrong key usage, name constraints, ...).
	VerifyInvalid
)

// String names the reason.
func (r VerifyReason) String() string {
	switch r {
	case VerifyUnknownAuthority:
		return "unknown authority"
	case VerifyHostname:
		return "host name mismatch"
	case VerifyExpired:
		return "expired or not yet valid"
	case VerifyInvalid:
		return "invalid certificate"
	}
	return "other"
}

// VerifyError reports that the peer's certificate did not verify. Err is
// the cause from crypto/x509 (x509.UnknownAuthorityError,
// x509.HostnameError, x509.CertificateInvalidError, ...), reachable with
// errors.As.
type VerifyError struct {
	Reason VerifyReason
	Err    error
}

// Error describes the failure with its reason and cause.
func (e *VerifyError) Error() string {
	return "tlsconn: certificate verification failed (" + e.Reason.String() + "): " + e.Err.Error()
}

// Unwrap returns the crypto/x509 error.
func (e *VerifyError) Unwrap() error { return e.Err }

// AlertError reports a fatal TLS alert: sent by the peer (Remote), or sent
// by us because the peer broke the protocol (a record that failed to
// decrypt, for one). Alert is crypto/tls's code, so
// errors.As(err, new(tls.AlertError)) works too.
type AlertError struct {
	Alert  tls.AlertError
	Remote bool
}

// Error names the alert and who sent it.
func (e *AlertError) Error() string {
	if e.Remote {
		return "tlsconn: peer sent alert: " + e.Alert.Error()
	}
	return "tlsconn: sent alert: " + e.Alert.Error()
}

// Unwrap returns the alert as a tls.AlertError.
func (e *AlertError) Unwrap() error { return e.Alert }

// Is lets a no_application_protocol alert match ErrALPNMismatch.
func (e *AlertError) Is(target error) bool {
	return target == ErrALPNMismatch && e.Alert == alertNoApplicationProtocol
}

// Alert codes this package looks at (RFC 8446, section 6).
const (
	alertNoApplicationProtocol tls.AlertError = 120
)

// ConfigError reports a Config that cannot be used: unreadable files, bad
// PEM, a wrong key password. What names the part ("root CAs",
// "certificate", "private key"), Source where it came from (a file name,
// or "PEM bytes").
type ConfigError struct {
	What   string
	Source string
	Err    error
}

// Error says what could not be used, from where, and why.
func (e *ConfigError) Error() string {
	return "tlsconn: " + e.What + " from " + e.Source + ": " + trimPrefix(e.Err)
}

// trimPrefix returns err's text without this package's prefix, for
// messages that already carry it.
func trimPrefix(err error) string { return strings.TrimPrefix(err.Error(), "tlsconn: ") }

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// timeoutError is a sentinel that satisfies net.Error's Timeout.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return false }

// wrapError is a sentinel with its own text that also matches another.
type wrapError struct {
	msg   string
	inner error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.inner }

// errWouldBlock is what the wire returns to crypto/tls when the bytes of
// the current read are used up. It must be a net.Error whose Temporary is
// true, returned unwrapped: that is what crypto/tls checks before deciding
// an error is final (conn.go, readRecordOrCCS), so the record it was
// reading stays buffered and the next Read resumes it.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlsconn: no more input (internal)" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

// classifyHandshake turns crypto/tls's handshake error into the reason
// reported to the handler.
func classifyHandshake(err error, serverName string) error {
	var cve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &cve):
		err = classifyVerify(cve.Err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		err = engine.ErrPeerClosed
	default:
		if ae := asAlert(err); ae != nil {
			err = ae
		}
	}
	return &HandshakeError{ServerName: serverName, Err: err}
}

func classifyVerify(err error) error {
	reason := VerifyOther
	var (
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		sre x509.SystemRootsError
	)
	switch {
	case errors.As(err, &ua), errors.As(err, &sre):
		reason = VerifyUnknownAuthority
	case errors.As(err, &he):
		reason = VerifyHostname
	case errors.As(err, &ci):
		reason = VerifyInvalid
		if ci.Reason == x509.Expired {
			reason = VerifyExpired
		}
	}
	return &VerifyError{Reason: reason, Err: err}
}

// classifyRead turns an error from tls.Conn.Read after the handshake into
// the reason the connection closes with.
func classifyRead(err error) error {
	if ae := asAlert(err); ae != nil {
		return ae
	}
	return &wrapError{"tlsconn: " + err.Error(), err}
}

// asAlert recognizes the alerts crypto/tls reports as a *net.OpError with
// Op "remote error" or "local error" around its unexported alert type. The
// code is recovered from the text, which crypto/tls builds the same way for
// tls.AlertError.
func asAlert(err error) *AlertError {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Err == nil {
		return nil
	}
	remote := oe.Op == "remote error"
	if !remote && oe.Op != "local error" {
		return nil
	}
	code, ok := alertCodes()[oe.Err.Error()]
	if !ok {
		return nil
	}
	return &AlertError{Alert: tls.AlertError(code), Remote: remote}
}

// alertCodes maps an alert's text back to its code.
var alertCodes = sync.OnceValue(func() map[string]uint8 {
	m := make(map[string]uint8, 256)
	for i := 0; i < 256; i++ {
		m[tls.AlertError(i).Error()] = uint8(i)
	}
	return m
})
