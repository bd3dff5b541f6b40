package http1

import "encoding/binary"

// Byte classes used by both the encoder and the parser. One table lookup
// per byte keeps validation cheap enough to run on every field.
const (
	classToken   = 1 << iota // tchar (RFC 9110 §5.6.2)
	classValue               // field-vchar, SP or HTAB (RFC 9110 §5.5)
	classTarget              // a URI character allowed in a path or query (RFC 3986)
	classRegName             // unreserved or sub-delims: a registered host name
	classQText               // qdtext inside a quoted-string (RFC 9110 §5.6.4)
)

var byteClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		if alnum || isAnyOf(b, "!#$%&'*+-.^_`|~") {
			t[c] |= classToken
		}
		// field-vchar = VCHAR / obs-text; SP and HTAB may appear inside.
		if b == ' ' || b == '\t' || 0x21 <= b && b <= 0x7e || b >= 0x80 {
			t[c] |= classValue
		}
		// pchar / "/" / "?": unreserved, sub-delims, ":", "@", and "%"
		// (checked further for pct-encoding).
		if alnum || isAnyOf(b, "-._~!$&'()*+,;=:@/?%") {
			t[c] |= classTarget
		}
		if alnum || isAnyOf(b, "-._~!$&'()*+,;=") {
			t[c] |= classRegName
		}
		// qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
		if b == '\t' || b == ' ' || b == 0x21 || 0x23 <= b && b <= 0x5b || 0x5d <= b && b <= 0x7e || b >= 0x80 {
			t[c] |= classQText
		}
	}
	return t
}()

func isAnyOf(b byte, set string) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == b {
			return true
		}
	}
	return false
}

func isTokenByte(b byte) bool { return byteClass[b]&classToken != 0 }

// validToken reports whether s is a non-empty token: a method or a field name.
func validToken[T ~string | ~[]byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if byteClass[s[i]]&classToken == 0 {
			return false
		}
	}
	return true
}

// validFieldValue reports whether s may appear as a field value. It rejects
// every control byte except HTAB, and DEL; in particular CR, LF and NUL,
// which are what header injection needs.
func validFieldValue[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if byteClass[s[i]]&classValue == 0 {
			return false
		}
	}
	return true
}

// valueEnd returns the index of the first byte of b at or after i that
// cannot be in a field value (see validFieldValue), or len(b). It tests
// eight bytes at a time while none of them is a control byte or DEL, which
// is the whole of nearly every value.
func valueEnd(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		// A byte below 0x20, or equal to 0x7f, sets its high bit in
		// one of the two terms (bytes of 0x80 and above, obs-text, set
		// neither); borrows may flag a byte above a flagged one too,
		// which only sends the rest to the byte loop.
		below := (x - ones*0x20) &^ x
		del := x ^ (ones * 0x7f)
		del = (del - ones) &^ del
		if (below|del)&highs != 0 {
			break
		}
	}
	for i < len(b) && byteClass[b[i]]&classValue != 0 {
		i++
	}
	return i
}

func isOWS(b byte) bool { return b == ' ' || b == '\t' }

// trimOWS removes optional whitespace from both ends of a field value.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// unhex returns the value of the hexadecimal digit c, or -1.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether a and b are equal under ASCII case folding.
// Unlike strings.EqualFold it never treats non-ASCII bytes as letters, as
// field names and tokens are ASCII.
func equalFold[A, B ~string | ~[]byte](a A, b B) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v contains token,
// compared case-insensitively. Empty list elements are skipped, as
// RFC 9110 §5.6.1 asks of recipients.
func hasToken[T ~string | ~[]byte](v T, token string) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		elem := v[:i]
		for len(elem) > 0 && isOWS(elem[0]) {
			elem = elem[1:]
		}
		for len(elem) > 0 && isOWS(elem[len(elem)-1]) {
			elem = elem[:len(elem)-1]
		}
		if equalFold(elem, token) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}
