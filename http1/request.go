package http1

import (
	"net/http"
	"strconv"
	"strings"
)

// RequestHead describes the head of a request to encode with
// AppendRequestHead. The encoder always writes HTTP/1.1.
type RequestHead struct {
	// Method is the request method, a token. Empty means GET.
	Method string

	// Target is the request-target exactly as it goes on the wire:
	// origin-form ("/path?query") normally, absolute-form
	// ("http://host/path") through a proxy, authority-form ("host:port")
	// for CONNECT and "*" for a server-wide OPTIONS. It must already be
	// percent-encoded; the encoder checks it but never rewrites it.
	Target string

	// Host is the value of the Host field, written first. It may be empty
	// only when the target URI has no authority (RFC 9112 §3.2).
	Host string

	// Fields are written after Host, in order. It is the allocation-free
	// way to send fields: a caller can keep a slice of constant pairs.
	Fields []HeaderField

	// Header is written after Fields, keys in sorted order so the output
	// is deterministic. It may be nil. A key with several values becomes
	// several field lines.
	Header http.Header

	// ContentLength is the length of the body that will follow the head:
	// -1 means unknown, and the head announces
	// "Transfer-Encoding: chunked" (encode the body with AppendChunk and
	// AppendLastChunk); 0 means no body; a positive value is written as
	// Content-Length.
	ContentLength int64

	// Close asks the server to close the connection after the response
	// by sending "Connection: close".
	Close bool
}

// The encoder owns the fields that decide where the request ends and which
// host it is for: Host, Content-Length and Transfer-Encoding are written
// from RequestHead.Host and RequestHead.ContentLength, and any such field
// found in Fields or Header is skipped, as net/http does. Letting a caller
// add a second Content-Length would make the request's framing ambiguous,
// which is exactly what request smuggling exploits.
func ownedField[T ~string | ~[]byte](name T) bool {
	switch len(name) {
	case len("Host"):
		return equalFold(name, "Host")
	case len("Content-Length"):
		return equalFold(name, "Content-Length")
	case len("Transfer-Encoding"):
		return equalFold(name, "Transfer-Encoding")
	}
	return false
}

// AppendRequestHead appends the request line and header section described
// by h to dst, up to and including the blank line that ends the head, and
// returns the extended slice. It allocates nothing when dst has room and
// h.Header has at most 32 keys.
//
// The fields are written in this order: Host; Fields; Header; then
// "Connection: close" if h.Close is set and no Connection field already
// holds the close token; then Content-Length or "Transfer-Encoding:
// chunked" as h.ContentLength says, never both. Host, Content-Length and
// Transfer-Encoding in Fields or Header are ignored (see RequestHead). A
// Connection field given by the caller is written as is: it may carry
// other options such as "upgrade". "Content-Length: 0" is written for an
// empty body only for methods that define a meaning for content (POST,
// PUT, PATCH and unknown methods), following RFC 9110 §8.6.
//
// It returns a *RequestError, and dst unchanged, if the method is not a
// token, the target or host holds a byte that is not allowed there
// (control bytes and spaces included), a field name is not a token, a
// field value holds a control byte (CR, LF and NUL among them: header
// injection), or ContentLength is below -1.
func AppendRequestHead(dst []byte, h *RequestHead) ([]byte, error) {
	method := h.Method
	if method == "" {
		method = "GET"
	}
	if !validToken(method) {
		return dst, requestErr(ErrBadMethod, "", method)
	}
	if !validTarget(method, h.Target) {
		return dst, requestErr(ErrBadTarget, "", h.Target)
	}
	if !validHost(h.Host) {
		return dst, requestErr(ErrBadHost, "", h.Host)
	}
	if h.ContentLength < -1 {
		return dst, requestErr(ErrBadLength, "", strconv.FormatInt(h.ContentLength, 10))
	}
	start := len(dst)
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, h.Target...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, h.Host...)
	dst = append(dst, "\r\n"...)

	dst, err := appendFields(dst, h.Fields, h.Header, h.Close)
	if err != nil {
		return dst[:start], err
	}
	if h.ContentLength != 0 || methodExpectsContent(method) {
		dst = appendFraming(dst, h.ContentLength)
	}
	return append(dst, "\r\n"...), nil
}

// forbiddenTrailer reports whether a field may not be sent in a trailer:
// the framing fields, Host and Trailer itself (RFC 9110 §6.5.1).
func forbiddenTrailer(name string) bool {
	return ownedField(name) || equalFold(name, "Trailer")
}

// forbiddenTrailerList reports whether a Trailer field value names a
// forbidden trailer.
func forbiddenTrailerList(v string) bool {
	for elem := range strings.SplitSeq(v, ",") {
		if forbiddenTrailer(strings.Trim(elem, " \t")) {
			return true
		}
	}
	return false
}

// methodExpectsContent reports whether a request with this method should
// announce an empty body with "Content-Length: 0". Methods whose
// semantics define no content do not (RFC 9110 §8.6); some servers answer
// 411 Length Required to a POST without it.
func methodExpectsContent(method string) bool {
	switch method {
	case "GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT":
		return false
	}
	return true
}

// validTarget checks a request-target: only URI characters (so no
// control byte, space or non-ASCII byte can split the request line),
// well-formed percent-encoding, and the shape of one of the four forms of
// RFC 9112 §3.2.
func validTarget(method, t string) bool {
	switch {
	case t == "":
		return false
	case t == "*": // asterisk-form
		return method == "OPTIONS"
	case t[0] == '/': // origin-form
		return validPathQuery(t)
	case method == "CONNECT": // authority-form
		return validAuthority(t, true)
	}
	// absolute-form, as sent to a proxy: scheme "://" authority
	// [path-abempty] ["?" query]. Userinfo is refused (RFC 9110 §4.2.4).
	i := 0
	for i < len(t) && (isAlpha(t[i]) || i > 0 && (isDigit(t[i]) || t[i] == '+' || t[i] == '-' || t[i] == '.')) {
		i++
	}
	if i == 0 || len(t) < i+3 || t[i:i+3] != "://" {
		return false
	}
	rest := t[i+3:]
	j := 0
	for j < len(rest) && rest[j] != '/' && rest[j] != '?' {
		j++
	}
	return j > 0 && validAuthority(rest[:j], false) && validPathQuery(rest[j:])
}

// validPathQuery checks the path and query of a target: URI characters
// with well-formed percent-encoding.
func validPathQuery(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if byteClass[c]&classTarget == 0 {
			return false
		}
		if c == '%' {
			if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
				return false
			}
			i += 2
		}
	}
	return true
}

// validHost checks a Host value: empty (a target without authority), or
// uri-host [":" port].
func validHost(h string) bool {
	return h == "" || validAuthority(h, false)
}

// validAuthority checks host [":" port], where host is a registered name
// or a bracketed IPv6 literal with an optional zone. It is stricter than
// RFC 3986 in refusing percent-encoded registered names: DNS names are
// ASCII (IDNs go as punycode), so a "%" there is a mistake.
func validAuthority(s string, needPort bool) bool {
	host, port, hasPort := s, "", false
	if s != "" && s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 || !validIPLiteral(s[1:end]) {
			return false
		}
		host = s[:end+1]
		if rest := s[end+1:]; rest != "" {
			if rest[0] != ':' {
				return false
			}
			port, hasPort = rest[1:], true
		}
	} else {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, port, hasPort = s[:i], s[i+1:], true
		}
		for i := 0; i < len(host); i++ {
			if byteClass[host[i]]&classRegName == 0 {
				return false
			}
		}
	}
	if host == "" || needPort && (!hasPort || port == "") {
		return false
	}
	for i := 0; i < len(port); i++ {
		if !isDigit(port[i]) {
			return false
		}
	}
	return true
}

// validIPLiteral checks the inside of "[...]": an IPv6 address in its
// textual characters, optionally followed by a zone ID ("%25" and
// unreserved characters, RFC 6874).
func validIPLiteral(s string) bool {
	addr, zone, hasZone := strings.Cut(s, "%25")
	if addr == "" || hasZone && zone == "" {
		return false
	}
	for i := 0; i < len(addr); i++ {
		if c := addr[i]; unhex(c) < 0 && c != ':' && c != '.' {
			return false
		}
	}
	for i := 0; i < len(zone); i++ {
		if c := zone[i]; !isAlpha(c) && !isDigit(c) && !isAnyOf(c, "-._~") {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
