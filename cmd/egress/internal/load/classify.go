package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"syscall"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http1"
	"github.com/egress-go/egress/http2"
	"github.com/egress-go/egress/pool"
	"github.com/egress-go/egress/resolver"
	"github.com/egress-go/egress/tlsconn"
)

// Error classes, as reported under "errors by type".
const (
	ErrClassRefused        = "connect refused"
	ErrClassConnectTimeout = "connect timeout"
	ErrClassDNS            = "dns"
	ErrClassTLS            = "tls"
	ErrClassReset          = "reset"
	ErrClassClosed         = "closed by server"
	ErrClassHeaderTimeout  = "header timeout"
	ErrClassBodyTimeout    = "body timeout"
	ErrClassIdleTimeout    = "idle timeout"
	ErrClassPoolWait       = "pool wait timeout"
	ErrClassProtocol       = "protocol error"
	ErrClassTruncated      = "truncated body"
	ErrClassCanceled       = "canceled"
	ErrClassOther          = "other"
	// ErrClassFiles is a socket the process could not open: it has as
	// many descriptors open as its limit (EMFILE) or the system has
	// (ENFILE).
	ErrClassFiles = "too many open files"
	// A request the HTTP/2 server reset, or that a GOAWAY ended, is
	// classed by the frame and its code, as "RST_STREAM INTERNAL_ERROR".
	ErrClassRSTStream = "RST_STREAM "
	ErrClassGoAway    = "GOAWAY "
)

// Classify names the kind of failure err is, for the report. The order
// matters: a connection closed mid-response wraps both the transport's
// ErrConnClosed and the engine's reason, and the reason is the more
// telling.
func Classify(err error) string {
	var (
		dnsErr *resolver.Error
		hsErr  *tlsconn.HandshakeError
		vErr   *tlsconn.VerifyError
		aErr   *tlsconn.AlertError
		pErr   *http1.ProtocolError
		lErr   *http1.LimitError
		tErr   *http1.TruncatedError
		recErr tls.RecordHeaderError
		uaErr  x509.UnknownAuthorityError
		hnErr  x509.HostnameError
		ciErr  x509.CertificateInvalidError
		sErr   *http2.StreamError
		gErr   *http2.GoAwayError
		cErr   *http2.ConnError
	)
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return ErrClassFiles
	case errors.Is(err, engine.ErrConnectRefused):
		return ErrClassRefused
	case errors.Is(err, engine.ErrConnectTimeout):
		return ErrClassConnectTimeout
	case errors.As(err, &dnsErr), errors.Is(err, engine.ErrNoAddress):
		return ErrClassDNS
	case errors.As(err, &hsErr), errors.As(err, &vErr), errors.As(err, &aErr), errors.As(err, &recErr),
		errors.As(err, &uaErr), errors.As(err, &hnErr), errors.As(err, &ciErr):
		return ErrClassTLS
	case errors.Is(err, engine.ErrReset):
		return ErrClassReset
	case errors.Is(err, egress.ErrHeaderTimeout):
		return ErrClassHeaderTimeout
	case errors.Is(err, egress.ErrBodyIdleTimeout):
		return ErrClassBodyTimeout
	case errors.Is(err, engine.ErrIdleTimeout):
		return ErrClassIdleTimeout
	case errors.Is(err, pool.ErrPoolWaitTimeout):
		return ErrClassPoolWait
	case errors.As(err, &sErr) && sErr.Remote:
		return ErrClassRSTStream + sErr.Code.String()
	case errors.As(err, &gErr):
		return ErrClassGoAway + gErr.Code.String()
	case errors.As(err, &sErr), errors.As(err, &cErr):
		return ErrClassProtocol // what the server sent broke the protocol
	case errors.As(err, &tErr):
		return ErrClassTruncated
	case errors.As(err, &pErr), errors.As(err, &lErr):
		return ErrClassProtocol
	case errors.Is(err, engine.ErrPeerClosed), errors.Is(err, tlsconn.ErrTruncated), errors.Is(err, egress.ErrConnClosed):
		return ErrClassClosed
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ErrClassCanceled
	}
	return ErrClassOther
}
