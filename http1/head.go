package http1

import (
	"bytes"
	"math"
)

// sectionScan finds the blank line that ends a head or trailer section,
// carrying its position across calls so that the section can arrive in
// pieces. It checks only line terminators; the lines themselves are
// parsed once the section is complete.
type sectionScan struct {
	lineLen int  // bytes of the current, unfinished line
	lastCR  bool // whether that line's last byte so far is CR
}

// scan looks for the end of the section in b, which continues the bytes
// already scanned; pending holds those bytes (the buffered start of the
// section), used only to quote the offending line in an error. It returns
// the offset in b just past the blank line, or -1 if the section goes on.
//
// Every line must end in CRLF. RFC 9112 §2.2 lets a recipient accept a
// bare LF, and net/http does in heads, but a parser that accepts it may
// split a message differently from one in front of it (a proxy, a cache,
// a load balancer); refusing it is the only answer that cannot disagree.
// No server in use today needs it.
func (s *sectionScan) scan(pending, b []byte) (int, error) {
	i := 0
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			if i < len(b) {
				s.lineLen += len(b) - i
				s.lastCR = b[len(b)-1] == '\r'
			}
			return -1, nil
		}
		j += i
		cr := s.lastCR
		if j > i {
			cr = b[j-1] == '\r'
		}
		if !cr {
			return -1, bareLFError(pending[len(pending)-min(s.lineLen, len(pending)):], b[i:j+1])
		}
		n := s.lineLen + j - i // line length including its CR
		s.lineLen, s.lastCR = 0, false
		i = j + 1
		if n == 1 {
			return i, nil
		}
	}
}

// bareLFError quotes the line that ends in a bare LF: its start may be
// buffered and its end in the current input.
func bareLFError(head, tail []byte) error {
	var line [maxSeen]byte
	n := copy(line[:], head)
	n += copy(line[n:], tail)
	return protoErr(ErrBareLF, line[:n])
}

// parseStatusLine parses
//
//	status-line = HTTP-version SP status-code SP [ reason-phrase ]
//
// accepting only HTTP/1.x and a status code from 100 to 999. A missing
// SP after the code is tolerated (many servers omit it when the reason
// is empty, and it is unambiguous); anything else is refused, including
// the extra spaces net/http skips, since no conforming server sends them.
func parseStatusLine(line []byte) (minor, code int, reason []byte, ok bool) {
	if len(line) < len("HTTP/1.1 200") || string(line[:7]) != "HTTP/1." || line[8] != ' ' {
		return 0, 0, nil, false
	}
	if !isDigit(line[7]) || !isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || line[9] == '0' {
		return 0, 0, nil, false
	}
	minor = int(line[7] - '0')
	code = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	rest := line[12:]
	if len(rest) == 0 {
		return minor, code, rest, true
	}
	if rest[0] != ' ' || !validFieldValue(rest[1:]) {
		return 0, 0, nil, false
	}
	return minor, code, rest[1:], true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseContentLength parses a Content-Length value (already stripped of
// whitespace): 1*DIGIT, no sign, at most math.MaxInt64.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
