package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/cmd/egress/internal/load"
)

// maxTargetsFile bounds a targets file, bodies given inline included.
const maxTargetsFile = 64 << 20

// benchTarget is a target as read from a targets file: its URL is
// absolute, or a path to be joined to the run's origin.
type benchTarget struct {
	line int
	load.Target
}

// targetError is a usage error at a line of the targets file.
func targetError(file string, line int, format string, args ...any) error {
	return usagef("bench: --targets %s:%d: %s", file, line, fmt.Sprintf(format, args...))
}

// readTargets reads a targets file, in vegeta's format or as JSON lines
// (the first line that is not blank or a comment says which), and checks
// each target. extra are the -H fields, added to every target.
func readTargets(file string, extra []egress.HeaderField) ([]benchTarget, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("bench: --targets: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTargetsFile+1))
	if err != nil {
		return nil, fmt.Errorf("bench: --targets: %w", err)
	}
	if len(data) > maxTargetsFile {
		return nil, usagef("bench: --targets %s: more than %d bytes", file, maxTargetsFile)
	}
	var ts []benchTarget
	if jsonLines(data) {
		ts, err = parseJSONTargets(file, data)
	} else {
		ts, err = parseVegetaTargets(file, data)
	}
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, usagef("bench: --targets %s: no target in the file", file)
	}
	origin := ""
	for i := range ts {
		t := &ts[i]
		if err := checkTarget(file, t, extra); err != nil {
			return nil, err
		}
		if o := targetOrigin(t.URL); o != "" {
			switch {
			case origin == "":
				origin = o
			case o != origin:
				return nil, targetError(file, t.line, "%s goes to %s, and the targets before to %s: "+
					"a run sends its -c connections to one origin (scheme://host:port); run one bench per origin", t.URL, o, origin)
			}
		}
	}
	return ts, nil
}

// jsonLines reports whether the first line that is not blank or a
// comment is a JSON object.
func jsonLines(data []byte) bool {
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		return line[0] == '{'
	}
	return false
}

// parseVegetaTargets reads vegeta's HTTP format: a "METHOD URL" line, then
// "Name: value" header lines and an optional "@path" line naming a body
// file; targets are separated by blank lines or by the next METHOD URL
// line; # starts a comment line.
func parseVegetaTargets(file string, data []byte) ([]benchTarget, error) {
	var ts []benchTarget
	var cur *benchTarget
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxTargetsFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			cur = nil
		case line[0] == '#':
		case line[0] == '@':
			if cur == nil {
				return nil, targetError(file, n, "a body file (@path) belongs after a METHOD URL line")
			}
			if cur.Body != nil {
				return nil, targetError(file, n, "a second body file for one target")
			}
			body, err := readBodyFile(strings.TrimSpace(line[1:]))
			if err != nil {
				return nil, targetError(file, n, "%v", err)
			}
			cur.Body = body
		default:
			fields := strings.Fields(line)
			first := fields[0]
			if strings.Contains(first, ":") && !strings.Contains(first, "/") {
				if cur == nil {
					return nil, targetError(file, n, "a header (%s) belongs after a METHOD URL line", first)
				}
				name, value, _ := strings.Cut(line, ":")
				cur.Header = append(cur.Header, egress.HeaderField{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
				continue
			}
			if len(fields) != 2 {
				return nil, targetError(file, n, "%q: want METHOD URL, as GET http://host/path", line)
			}
			ts = append(ts, benchTarget{line: n, Target: load.Target{Method: fields[0], URL: fields[1]}})
			cur = &ts[len(ts)-1] // the last target, which the lines below add to
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: --targets %s: %w", file, err)
	}
	return ts, nil
}

// jsonTarget is one line of a JSON lines targets file.
type jsonTarget struct {
	Method     string                     `json:"method"`
	URL        string                     `json:"url"`
	Header     map[string]json.RawMessage `json:"header"`
	Body       *string                    `json:"body"`
	BodyBase64 *string                    `json:"body_base64"`
	BodyFile   string                     `json:"body_file"`
	Weight     *int                       `json:"weight"`
}

// parseJSONTargets reads one JSON object per line: method, url, header
// (a name to a value or a list of values), one of body (text),
// body_base64 and body_file, and weight.
func parseJSONTargets(file string, data []byte) ([]benchTarget, error) {
	var ts []benchTarget
	n := 0
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		n++
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		var jt jsonTarget
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&jt); err != nil {
			return nil, targetError(file, n, "not a JSON target (method, url, header, body, body_base64, body_file, weight): %v", err)
		}
		if dec.More() {
			return nil, targetError(file, n, "one JSON object per line")
		}
		t := benchTarget{line: n, Target: load.Target{Method: jt.Method, URL: jt.URL}}
		if t.Method == "" {
			t.Method = "GET"
		}
		names := make([]string, 0, len(jt.Header))
		for name := range jt.Header {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			var one string
			var many []string
			raw := jt.Header[name]
			if json.Unmarshal(raw, &one) == nil {
				many = []string{one}
			} else if json.Unmarshal(raw, &many) != nil {
				return nil, targetError(file, n, "header %s: want a string or a list of strings", name)
			}
			for _, v := range many {
				t.Header = append(t.Header, egress.HeaderField{Name: name, Value: v})
			}
		}
		bodies := 0
		for _, given := range []bool{jt.Body != nil, jt.BodyBase64 != nil, jt.BodyFile != ""} {
			if given {
				bodies++
			}
		}
		if bodies > 1 {
			return nil, targetError(file, n, "body, body_base64 and body_file exclude each other")
		}
		if jt.Body != nil {
			t.Body = []byte(*jt.Body)
		}
		if jt.BodyBase64 != nil {
			b, err := base64.StdEncoding.DecodeString(*jt.BodyBase64)
			if err != nil {
				return nil, targetError(file, n, "body_base64: %v", err)
			}
			t.Body = b
		}
		if jt.BodyFile != "" {
			b, err := readBodyFile(jt.BodyFile)
			if err != nil {
				return nil, targetError(file, n, "%v", err)
			}
			t.Body = b
		}
		if jt.Weight != nil {
			if *jt.Weight < 1 || *jt.Weight > load.MaxWeight {
				return nil, targetError(file, n, "weight %d: want 1 to %d", *jt.Weight, load.MaxWeight)
			}
			t.Weight = *jt.Weight
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// readBodyFile reads a request body from a file, as --body-file does.
func readBodyFile(name string) ([]byte, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("body file: %w", err)
	}
	if st.Size() > maxBodyFile {
		return nil, fmt.Errorf("body file %s: %d bytes is more than the %d a request body may have", name, st.Size(), maxBodyFile)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("body file: %w", err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// checkTarget checks a target's method, URL and fields, and adds the -H
// fields to it.
func checkTarget(file string, t *benchTarget, extra []egress.HeaderField) error {
	if err := checkMethod(t.Method); err != nil {
		return targetError(file, t.line, "%v", err)
	}
	if err := checkURLTemplate(t.URL, true); err != nil {
		return targetError(file, t.line, "%v", err)
	}
	for _, f := range t.Header {
		if _, err := parseHeaders([]string{f.Name + ": " + f.Value}); err != nil {
			return targetError(file, t.line, "%v", err)
		}
		if err := checkHeaderField(f); err != nil {
			return targetError(file, t.line, "%v", err)
		}
	}
	if len(extra) > 0 {
		t.Header = append(append([]egress.HeaderField(nil), t.Header...), extra...)
	}
	return nil
}

// checkHeaderField refuses the fields the request encoder sets itself,
// and placeholders it does not know.
func checkHeaderField(f egress.HeaderField) error {
	// The request encoder writes Host, Content-Length and
	// Transfer-Encoding itself; silently dropping a user's would measure
	// something else than asked.
	if n := strings.ToLower(f.Name); n == "host" || n == "content-length" || n == "transfer-encoding" {
		return usagef("-H %s is not supported: it is set from the URL and the body", f.Name)
	}
	if err := load.CheckTemplate(f.Value); err != nil {
		return usagef("header %s: %v", f.Name, err)
	}
	return nil
}

// checkURLTemplate checks a URL that may hold placeholders: they are
// allowed in its path and query, not in its scheme or host. A path
// alone ("/x") is allowed when relative, to be joined to the run's
// origin.
func checkURLTemplate(raw string, relative bool) error {
	if err := load.CheckTemplate(raw); err != nil {
		return usagef("URL %s: %v", raw, err)
	}
	if relative && strings.HasPrefix(raw, "/") {
		if strings.HasPrefix(raw, "//") {
			return usagef("URL %s: a target is an absolute URL or a path from /", raw)
		}
		return nil
	}
	if strings.Contains(originPart(raw), "{{") {
		return usagef("URL %s: placeholders go in the path and query (and header values and body), not in the scheme or host", raw)
	}
	first, _ := load.RenderFirst(raw)
	if _, err := checkURL(first); err != nil {
		if relative {
			return usagef("%v (a target is an absolute URL or a path from /)", err)
		}
		return err
	}
	return nil
}

// originPart is the scheme://host:port of a raw URL, up to its path.
func originPart(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	if j := strings.IndexAny(raw[i+3:], "/?#"); j >= 0 {
		return raw[:i+3+j]
	}
	return raw
}

// targetOrigin is scheme://host:port of an absolute target, with the
// default port made explicit so that http://h and http://h:80 are one;
// "" for a path.
func targetOrigin(raw string) string {
	if strings.HasPrefix(raw, "/") {
		return ""
	}
	return origin(originPart(raw))
}

// origin normalises scheme://host[:port].
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// resolveTargets joins the paths among the targets to base
// (scheme://host:port, from the URL argument or the embedded server) and
// checks that the absolute ones go there too.
func resolveTargets(file string, ts []benchTarget, base string) ([]load.Target, error) {
	out := make([]load.Target, len(ts))
	want := origin(originPart(base))
	root := strings.TrimSuffix(originPart(base), "/")
	for i, t := range ts {
		if strings.HasPrefix(t.URL, "/") {
			t.URL = root + t.URL
		} else if o := targetOrigin(t.URL); o != want {
			return nil, targetError(file, t.line, "%s goes to %s, not to the URL given, %s: "+
				"a run sends its -c connections to one origin", t.URL, o, want)
		}
		out[i] = t.Target
	}
	return out, nil
}

// targetsBase is the origin of absolute targets when no URL is given:
// "" when they are all paths (the embedded server is then their
// origin). Paths and absolute URLs mixed need the URL argument.
func targetsBase(file string, ts []benchTarget) (string, error) {
	var abs, rel *benchTarget
	for i := range ts {
		if strings.HasPrefix(ts[i].URL, "/") {
			rel = &ts[i]
		} else {
			abs = &ts[i]
		}
	}
	switch {
	case abs == nil:
		return "", nil
	case rel == nil:
		return originPart(abs.URL), nil
	}
	return "", targetError(file, rel.line, "%s is a path, and line %d an absolute URL: give the URL the paths go to as the argument",
		rel.URL, abs.line)
}
