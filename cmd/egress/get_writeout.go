package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// transfer is what -w reports of a request: its last attempt.
type transfer struct {
	method      string
	url         string // as given
	effective   string // the last hop's URL
	status      int    // 0 without a response
	contentType string
	protoMajor  int
	protoMinor  int
	redirects   int
	downloaded  int64 // body bytes received (before decoding --compressed)
	uploaded    int64
	exitCode    int
	errMsg      string
	remote      string // host:port connected to
	tm          *timing
	hasResponse bool
}

// writeOutVars are -w's variables, with curl's names and formats: times
// in seconds from the start of the (last) attempt, each phase's end.
var writeOutVars = map[string]func(t *transfer) string{
	"content_type": func(t *transfer) string { return t.contentType },
	"errormsg":     func(t *transfer) string { return t.errMsg },
	"exitcode":     func(t *transfer) string { return strconv.Itoa(t.exitCode) },
	"http_code":    func(t *transfer) string { return fmt.Sprintf("%03d", t.status) },
	"http_version": func(t *transfer) string {
		switch {
		case !t.hasResponse:
			return "0"
		case t.protoMajor == 2:
			return "2"
		}
		return fmt.Sprintf("%d.%d", t.protoMajor, t.protoMinor)
	},
	"method":        func(t *transfer) string { return t.method },
	"num_redirects": func(t *transfer) string { return strconv.Itoa(t.redirects) },
	"remote_ip": func(t *transfer) string {
		h, _, _ := net.SplitHostPort(t.remote)
		return h
	},
	"remote_port": func(t *transfer) string {
		_, p, _ := net.SplitHostPort(t.remote)
		return p
	},
	"response_code": func(t *transfer) string { return fmt.Sprintf("%03d", t.status) },
	"scheme": func(t *transfer) string {
		s, _, _ := strings.Cut(t.effective, "://")
		return strings.ToUpper(s)
	},
	"size_download": func(t *transfer) string { return strconv.FormatInt(t.downloaded, 10) },
	"size_upload":   func(t *transfer) string { return strconv.FormatInt(t.uploaded, 10) },
	"speed_download": func(t *transfer) string {
		total := t.tm.phases().total
		if total <= 0 {
			return "0"
		}
		return strconv.FormatInt(int64(float64(t.downloaded)/total.Seconds()), 10)
	},
	"time_namelookup":    func(t *transfer) string { return seconds(t.tm.phases().namelookup) },
	"time_connect":       func(t *transfer) string { return seconds(t.tm.phases().connect) },
	"time_appconnect":    func(t *transfer) string { return seconds(t.tm.phases().appconnect) },
	"time_pretransfer":   func(t *transfer) string { return seconds(t.tm.phases().pretransfer) },
	"time_starttransfer": func(t *transfer) string { return seconds(t.tm.phases().starttransfer) },
	"time_redirect":      func(t *transfer) string { return seconds(t.tm.phases().redirect) },
	"time_total":         func(t *transfer) string { return seconds(t.tm.phases().total) },
	"url":                func(t *transfer) string { return t.url },
	"url_effective":      func(t *transfer) string { return t.effective },
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.6f", d.Seconds()) }

// writeOut is a parsed -w format: literal text and variables.
type writeOut []writeOutPart

// writeOutPart is literal text, or a variable when v is set.
type writeOutPart struct {
	text string
	v    func(t *transfer) string
}

// parseWriteOut parses a -w format: %{name} variables, %% for a percent
// sign, and \n, \r, \t and \\ escapes; @FILE reads the format from a file.
// An unknown variable is a usage error, found before the request is made.
func parseWriteOut(f string) (writeOut, error) {
	if name, ok := strings.CutPrefix(f, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, usagef("get: -w: %v", err)
		}
		f = string(b)
	}
	var w writeOut
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			w = append(w, writeOutPart{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c == '%' && strings.HasPrefix(f[i:], "%%"):
			lit.WriteByte('%')
			i++
		case c == '%' && strings.HasPrefix(f[i:], "%{"):
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return nil, usagef("get: -w: %q lacks its closing }", f[i:])
			}
			name := f[i+2 : i+end]
			fn, ok := writeOutVars[name]
			if !ok {
				return nil, usagef("get: -w: unknown variable %%{%s} (known: %s)", name, strings.Join(writeOutNames(), ", "))
			}
			flush()
			w = append(w, writeOutPart{v: fn})
			i += end
		case c == '\\' && i+1 < len(f):
			switch f[i+1] {
			case 'n':
				lit.WriteByte('\n')
			case 'r':
				lit.WriteByte('\r')
			case 't':
				lit.WriteByte('\t')
			case '\\':
				lit.WriteByte('\\')
			default:
				lit.WriteByte(c)
				continue
			}
			i++
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return w, nil
}

func writeOutNames() []string {
	names := make([]string, 0, len(writeOutVars))
	for n := range writeOutVars {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (w writeOut) write(out io.Writer, t *transfer) {
	var b strings.Builder
	for _, s := range w {
		if s.v != nil {
			b.WriteString(s.v(t))
		} else {
			b.WriteString(s.text)
		}
	}
	io.WriteString(out, b.String())
}
