package http1

import (
	"bytes"
	"net/http"
	"strings"
)

// RawField is one field line of a response head or trailer section, as
// it was received: Name exactly as sent (not canonicalised) and Value with
// its surrounding whitespace removed. Both alias memory the parser does not
// own; see ResponseParser.Fields for how long they stay valid.
type RawField struct {
	Name, Value []byte
}

// HeaderField is a field line for the request encoder, as a name and a
// value to write verbatim (after validation).
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
		// (obs-fold). Unfolding it invites disagreement with other parsers
		// on the path about where a field ends, so it is refused, as
		// RFC 9112 §5.2 allows.
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
// a handful of allocations plus one per distinct key.
func buildHeader(fields []RawField) http.Header {
	h := make(http.Header, len(fields))
	if len(fields) == 0 {
		return h
	}
	n := 0
	for _, f := range fields {
		n += len(f.Value)
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, f := range fields {
		sb.Write(f.Value)
	}
	all := sb.String()
	strs := make([]string, len(fields))
	off := 0
	for i, f := range fields {
		v := all[off : off+len(f.Value)]
		off += len(f.Value)
		key := http.CanonicalHeaderKey(string(f.Name))
		if vv, ok := h[key]; ok {
			h[key] = append(vv, v)
			continue
		}
		// A three-index slice keeps a later append from writing into the
		// next key's element.
		strs[i] = v
		h[key] = strs[i : i+1 : i+1]
	}
	return h
}
