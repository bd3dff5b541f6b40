package http1

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"unsafe"
)

// RawField is one field line of a head or trailer section, as it was
// received: Name exactly as sent (not canonicalised) and Value with its
// surrounding whitespace removed. Both alias memory the parser does not
// own; see ResponseParser.Fields and RequestParser.Fields for how long they
// stay valid.
type RawField struct {
	Name, Value []byte
}

// HeaderField is a field line for the encoders (AppendRequestHead,
// AppendResponseHead), as a name and a value to write verbatim (after
// validation).
type HeaderField struct {
	Name, Value string
}

// parseFields parses the field lines of a head or trailer section. b holds
// the lines after the start line (none for a trailer), ending with the
// blank line; the section scanner has already checked that every LF in b
// follows a CR. Fields are appended to dst.
func parseFields(dst []RawField, b []byte, limit int, tooMany error) ([]RawField, error) {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 1 || b[i-1] != '\r' {
			// Unreachable after the scanner; kept so that a bug there
			// cannot turn into a panic here.
			return dst, protoErr(ErrBareLF, b)
		}
		line := b[:i-1]
		b = b[i+1:]
		if len(line) == 0 {
			return dst, nil
		}
		// A line starting with whitespace continues the previous one
		// (obs-fold). Unfolding it in a request invites disagreement with
		// other parsers on the path about where a field ends, so it is
		// refused, as RFC 9112 §5.2 allows a server; a response's head is
		// unfolded first (see unfoldSection) and gets here only with a
		// fold that continues nothing.
		if isOWS(line[0]) {
			return dst, protoErr(ErrObsFold, line)
		}
		colon := bytes.IndexByte(line, ':')
		// No whitespace is allowed between name and colon (RFC 9112 §5.1):
		// "Content-Length : 5" is refused with the rest of the non-tokens.
		if colon < 0 || !validToken(line[:colon]) {
			return dst, protoErr(ErrBadHeaderField, line)
		}
		value := trimOWS(line[colon+1:])
		if !validFieldValue(value) {
			return dst, protoErr(ErrBadHeaderField, line)
		}
		if len(dst) >= limit {
			return dst, &LimitError{Err: tooMany, Limit: limit}
		}
		dst = append(dst, RawField{Name: line[:colon], Value: value})
	}
}

// lookup returns the value of the first field named name (compared
// case-insensitively), or nil.
func lookup(fields []RawField, name string) []byte {
	for i := range fields {
		if equalFold(fields[i].Name, name) {
			return fields[i].Value // never nil: a sub-slice of the head
		}
	}
	return nil
}

// buildHeader converts fields to an http.Header with canonical keys, in
// the shape http.ReadResponse produces. All values share one string and
// all single-valued keys share one []string backing array, so the cost is
// a handful of allocations, and one per repeated name's values.
func buildHeader(fields []RawField) http.Header {
	h, _ := buildHeaderInto(fields, nil, 0)
	return h
}

// buildHeaderInto is buildHeader with the caller's help: vals, if long
// enough, backs the single-valued keys' []string instead of a new array,
// and spare bytes of capacity are left after the values' bytes, returned
// as an empty slice, so that the caller can keep something small (a body)
// in the same allocation. The values are strings over that allocation's
// front; nothing ever writes there again, so they stay immutable.
func buildHeaderInto(fields []RawField, vals []string, spare int) (http.Header, []byte) {
	h := make(http.Header, len(fields))
	n := 0
	for _, f := range fields {
		n += len(f.Value)
	}
	var buf []byte
	if n+spare > 0 {
		buf = make([]byte, 0, n+spare)
	}
	for _, f := range fields {
		buf = append(buf, f.Value...)
	}
	rest := buf[n:n]
	if len(fields) == 0 {
		return h, rest
	}
	all := unsafe.String(unsafe.SliceData(buf), n)
	var strs []string
	if len(fields) <= len(vals) {
		strs = vals[:len(fields):len(fields)]
	} else {
		strs = make([]string, len(fields))
	}
	off := 0
	for i, f := range fields {
		strs[i] = all[off : off+len(f.Value)]
		off += len(f.Value)
	}
	// Most names come once: store each without looking it up first, and
	// start again the plain way at the first name the map already held.
	// A three-index slice keeps a later append from writing into the
	// next key's element.
	for i, f := range fields {
		size := len(h)
		h[canonicalKey(f.Name)] = strs[i : i+1 : i+1]
		if len(h) == size {
			clear(h)
			addFields(h, fields, strs)
			break
		}
	}
	return h, rest
}

// addFields adds each field's value, strs[i], under its canonical name,
// looking the name up: linear in the fields however often names repeat.
func addFields(h http.Header, fields []RawField, strs []string) {
	for i, f := range fields {
		key := canonicalKey(f.Name)
		if vv, ok := h[key]; ok {
			h[key] = append(vv, strs[i])
		} else {
			h[key] = strs[i : i+1 : i+1]
		}
	}
}

// appendFields writes the caller's fields of a head, request or response
// alike: fields in order, then hdr (see appendHeader), skipping those the
// encoder owns (see ownedField), then "Connection: close" if closeConn is
// set and no field already carried that token. On error the caller cuts
// dst back to where its head started.
func appendFields(dst []byte, fields []HeaderField, hdr http.Header, closeConn bool) ([]byte, error) {
	closeSent := false
	for _, f := range fields {
		if ownedField(f.Name) {
			continue
		}
		var err error
		if dst, err = appendField(dst, f.Name, f.Value); err != nil {
			return dst, err
		}
		if equalFold(f.Name, "Connection") && hasToken(f.Value, "close") {
			closeSent = true
		}
	}
	if len(hdr) > 0 {
		var err error
		if dst, closeSent, err = appendHeader(dst, hdr, closeSent); err != nil {
			return dst, err
		}
	}
	if closeConn && !closeSent {
		dst = append(dst, "Connection: close\r\n"...)
	}
	return dst, nil
}

// appendFraming writes the field that frames the body that follows a
// head: Content-Length for a known length n, or "Transfer-Encoding:
// chunked" when n is -1 (unknown). The two are never both written, since
// a message with both is the classic smuggling vector.
func appendFraming(dst []byte, n int64) []byte {
	if n < 0 {
		return append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, "\r\n"...)
}

// appendHeader writes the fields of hdr in sorted key order. It reports
// whether a Connection field carrying the close token was written.
func appendHeader(dst []byte, hdr http.Header, closeSent bool) ([]byte, bool, error) {
	// Sorting needs the keys in a slice; a stack array covers every
	// realistic request without a heap allocation.
	var stack [32]string
	keys := stack[:0]
	for k := range hdr {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if ownedField(k) {
			continue
		}
		isConn := equalFold(k, "Connection")
		for _, v := range hdr[k] {
			var err error
			if dst, err = appendField(dst, k, v); err != nil {
				return dst, closeSent, err
			}
			if isConn && hasToken(v, "close") {
				closeSent = true
			}
		}
	}
	return dst, closeSent, nil
}

// appendField writes one field line after checking it: a name or value
// that could end the line or the head early is refused, not escaped.
func appendField(dst []byte, name, value string) ([]byte, error) {
	if !validToken(name) {
		return dst, requestErr(ErrBadFieldName, "", name)
	}
	if !validFieldValue(value) {
		return dst, requestErr(ErrBadFieldValue, name, value)
	}
	// Announcing a trailer that AppendLastChunk would refuse to send is
	// refused too; servers such as net/http reject the request for it.
	if len(name) == len("Trailer") && equalFold(name, "Trailer") && forbiddenTrailerList(value) {
		return dst, requestErr(ErrForbiddenTrailer, name, value)
	}
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...), nil
}

// commonKeys lists, by length, the canonical form of the field names most
// responses carry, so that building a header finds the key's string
// without allocating one per field, and without hashing the name: a
// bucket holds a few names, told apart by their first letters.
var commonKeys = func() (t [maxCommonKey + 1][]string) {
	for _, k := range []string{
		"Accept-Ranges", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
		"Access-Control-Max-Age", "Age", "Alt-Svc", "Cache-Control", "Connection", "Content-Disposition",
		"Content-Encoding", "Content-Language", "Content-Length", "Content-Location", "Content-Range",
		"Content-Security-Policy", "Content-Type", "Date", "Etag", "Expires", "Keep-Alive",
		"Last-Modified", "Link", "Location", "Pragma", "Proxy-Authenticate", "Referrer-Policy",
		"Retry-After", "Server", "Set-Cookie", "Strict-Transport-Security", "Trailer",
		"Transfer-Encoding", "Upgrade", "Vary", "Via", "Www-Authenticate", "X-Content-Type-Options",
		"X-Frame-Options", "X-Request-Id", "X-Xss-Protection",
	} {
		t[len(k)] = append(t[len(k)], k)
	}
	return
}()

// maxCommonKey is the length of the longest name in commonKeys.
const maxCommonKey = len("Access-Control-Allow-Credentials")

// canonicalKey is http.CanonicalHeaderKey(string(name)), without an
// allocation for the common names.
func canonicalKey(name []byte) string {
	if len(name) <= maxCommonKey {
		// The common names are spelled with letters and hyphens only, so
		// a name equal to one of them but for the case of its letters has
		// it as its canonical form.
		for _, k := range commonKeys[len(name)] {
			if string(name) == k || lower(name[0]) == lower(k[0]) && equalFold(name, k) {
				return k
			}
		}
	}
	return http.CanonicalHeaderKey(string(name))
}

// unfoldSection returns a copy of a head's field lines with each obsolete
// line fold (optional whitespace, CRLF, whitespace) replaced by one space,
// which is what RFC 9112 §5.2 asks of a user agent that receives one. It
// reports false when there is nothing it can unfold: a fold on the first
// line, which continues no field.
func unfoldSection(sec []byte) ([]byte, bool) {
	out := make([]byte, 0, len(sec))
	// A continuation is appended trimmed, so only a field's first line
	// can end in whitespace that belongs to the fold. Once a fold has
	// been written, the space it left is kept: a blank continuation line
	// is a fold of its own, and each fold is one space.
	folding := false
	for len(sec) > 0 {
		i := bytes.IndexByte(sec, '\n')
		if i < 0 {
			out = append(out, sec...)
			break
		}
		line := sec[:i+1] // with its CRLF
		sec = sec[i+1:]
		if len(line) > 2 && isOWS(line[0]) {
			if len(out) == 0 {
				return nil, false
			}
			out = out[:len(out)-2] // the previous line's CRLF
			if !folding {
				out = trimRightOWS(out)
			}
			out = append(out, ' ')
			out = append(out, trimOWS(line[:len(line)-2])...)
			out = append(out, '\r', '\n')
			folding = true
			continue
		}
		folding = false
		out = append(out, line...)
	}
	return out, true
}

func trimRightOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
