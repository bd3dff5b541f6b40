package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

// seenRequest is what a recording server saw of one request.
type seenRequest struct {
	proto, method, path, query, body string
	header                           http.Header
}

// requestLog records every request a server answers.
type requestLog struct {
	mu   sync.Mutex
	reqs []seenRequest
}

func (l *requestLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	l.reqs = append(l.reqs, seenRequest{r.Proto, r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Clone()})
	l.mu.Unlock()
}

func (l *requestLog) take() []seenRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reqs
	l.reqs = nil
	return out
}

// writeFile writes a file for a test and returns its name.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// targetsJSON is the part of the JSON report about targets.
type targetsJSON struct {
	TargetsFile string `json:"targets_file"`
	Targets     []struct {
		Method string `json:"method"`
		URL    string `json:"url"`
		Weight int    `json:"weight"`
		Sent   int64  `json:"sent"`
	} `json:"targets"`
}

// TestBenchTargets sends three targets of a vegeta-format file, with
// placeholders in path, query, field and body, in the closed and the
// open model, over HTTP/1.1 and HTTP/2: the server sees each target 100
// times in 300 requests, in the protocol asked, and every request number
// once, the same in the URL as in the field or the body.
func TestBenchTargets(t *testing.T) {
	testkit.CheckLeaks(t)
	log := &requestLog{}
	srv := startH2C(t, log) // HTTP/1.1 and h2c on one port
	body := writeFile(t, "body", "body {{seq}}")
	file := writeFile(t, "targets.txt", `# three targets, each taken in turn
GET /a/{{seq}}
X-Seq: {{seq}}

POST /b?n={{seq}}
Content-Type: text/plain
@`+body+`
DELETE /c
`)
	for _, tc := range []struct {
		name  string
		args  []string
		proto string
	}{
		{"closed HTTP/1.1", nil, "HTTP/1.1"},
		{"open HTTP/1.1", []string{"-R", "1000", "-d", "20s"}, "HTTP/1.1"},
		{"closed HTTP/2", []string{"--http2-prior-knowledge", "-m", "2"}, "HTTP/2.0"},
		{"open HTTP/2", []string{"--http2-prior-knowledge", "-m", "2", "-R", "1000", "-d", "20s"}, "HTTP/2.0"},
	} {
		args := append([]string{"bench", "--json", "-c", "3", "-n", "300", "--targets", file}, tc.args...)
		out, errOut, code := cli(t, append(args, srv.url)...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", tc.name, code, out, errOut)
		}
		reqs := log.take()
		var tj targetsJSON
		json.Unmarshal([]byte(out), &tj)
		if r := parseReport(t, out); r.Requests != 300 || len(reqs) != 300 || len(tj.Targets) != 3 || tj.TargetsFile != file {
			t.Fatalf("%s: %d requests, the server saw %d; targets %+v", tc.name, r.Requests, len(reqs), tj)
		}
		for i, want := range []string{"GET", "POST", "DELETE"} {
			if tt := tj.Targets[i]; tt.Method != want || tt.Sent != 100 || tt.Weight != 1 {
				t.Errorf("%s: target %d %+v", tc.name, i, tt)
			}
		}
		count := map[string]int{}
		nums := map[int]bool{}
		for _, r := range reqs {
			count[r.method]++
			if r.proto != tc.proto {
				t.Fatalf("%s: a request came over %s", tc.name, r.proto)
			}
			var n int
			var err error
			switch r.method {
			case "GET":
				n, err = strconv.Atoi(strings.TrimPrefix(r.path, "/a/"))
				if err != nil || r.header.Get("X-Seq") != strconv.Itoa(n) || n%3 != 0 {
					t.Fatalf("%s: GET %s with X-Seq %q", tc.name, r.path, r.header.Get("X-Seq"))
				}
			case "POST":
				n, err = strconv.Atoi(strings.TrimPrefix(r.query, "n="))
				if err != nil || r.path != "/b" || r.body != "body "+strconv.Itoa(n) || n%3 != 1 ||
					r.header.Get("Content-Type") != "text/plain" {
					t.Fatalf("%s: POST %s?%s with body %q", tc.name, r.path, r.query, r.body)
				}
			case "DELETE":
				if r.path != "/c" || r.body != "" {
					t.Fatalf("%s: DELETE %s", tc.name, r.path)
				}
				continue
			}
			if nums[n] {
				t.Fatalf("%s: request number %d seen twice", tc.name, n)
			}
			nums[n] = true
		}
		if count["GET"] != 100 || count["POST"] != 100 || count["DELETE"] != 100 || len(nums) != 200 {
			t.Errorf("%s: the server saw %v and %d numbers", tc.name, count, len(nums))
		}
	}
}

// TestBenchTargetsJSONLines: weighted JSON targets with absolute URLs
// (then no URL argument is needed), lists of values, a base64 body and
// a random number below N in a field.
func TestBenchTargetsJSONLines(t *testing.T) {
	testkit.CheckLeaks(t)
	log := &requestLog{}
	srv := startH2C(t, log)
	file := writeFile(t, "targets.jsonl", fmt.Sprintf(`
{"url":"%[1]sheavy","header":{"X-R":"{{rand:5}}","X-Multi":["a","b"]},"weight":3}
{"method":"PUT","url":"%[1]slight","body_base64":"AAEC","weight":1}
`, srv.url))
	out, errOut, code := cli(t, "bench", "--json", "-c", "2", "-n", "400", "--targets", file)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var tj targetsJSON
	json.Unmarshal([]byte(out), &tj)
	if len(tj.Targets) != 2 || tj.Targets[0].Sent != 300 || tj.Targets[0].Weight != 3 || tj.Targets[1].Sent != 100 {
		t.Fatalf("targets %+v", tj.Targets)
	}
	if strings.Contains(errOut, "embedded server") {
		t.Errorf("absolute targets started the embedded server: %q", errOut)
	}
	count := map[string]int{}
	rands := map[string]bool{}
	for _, r := range log.take() {
		count[r.method+" "+r.path]++
		switch r.method + " " + r.path {
		case "GET /heavy":
			rands[r.header.Get("X-R")] = true
			if m := r.header.Values("X-Multi"); len(m) != 2 || m[0] != "a" || m[1] != "b" {
				t.Fatalf("X-Multi %q", m)
			}
		case "PUT /light":
			if r.body != "\x00\x01\x02" {
				t.Fatalf("body %q", r.body)
			}
		default:
			t.Fatalf("unexpected %s %s", r.method, r.path)
		}
	}
	if count["GET /heavy"] != 300 || count["PUT /light"] != 100 {
		t.Fatalf("the server saw %v", count)
	}
	if len(rands) != 5 || !rands["0"] || !rands["4"] {
		t.Errorf("{{rand:5}} gave %v", rands)
	}
}

// TestBenchPlaceholders: without a targets file, placeholders in the
// URL, a -H field and --body make each request differ.
func TestBenchPlaceholders(t *testing.T) {
	testkit.CheckLeaks(t)
	log := &requestLog{}
	srv := startH2C(t, log)
	out, errOut, code := cli(t, "bench", "-c", "2", "-n", "50", "-X", "POST", "-H", "X-Id: id-{{seq}}", "--body", "n={{seq}}",
		srv.url+"item/{{seq}}?r={{rand:7}}")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	seen := map[string]bool{}
	for _, r := range log.take() {
		n := strings.TrimPrefix(r.path, "/item/")
		rv, err := strconv.Atoi(strings.TrimPrefix(r.query, "r="))
		if r.header.Get("X-Id") != "id-"+n || r.body != "n="+n || err != nil || rv < 0 || rv >= 7 {
			t.Fatalf("%s %s?%s X-Id %q body %q", r.method, r.path, r.query, r.header.Get("X-Id"), r.body)
		}
		seen[n] = true
	}
	for i := range 50 {
		if !seen[strconv.Itoa(i)] {
			t.Fatalf("request %d never seen (seen %v)", i, seen)
		}
	}
	if !strings.Contains(out, "egress bench POST "+srv.url+"item/{{seq}}?r={{rand:7}}") {
		t.Errorf("the report's title does not show the URL as given:\n%s", out)
	}
}

// TestBenchTargetsEmbedded: targets that are paths, with no URL, go to
// the embedded server.
func TestBenchTargetsEmbedded(t *testing.T) {
	testkit.CheckLeaks(t)
	file := writeFile(t, "t.txt", "GET /status/201\nGET /status/202\n")
	out, errOut, code := cli(t, "bench", "--json", "-c", "2", "-n", "100", "--targets", file)
	if code != 0 || !strings.Contains(errOut, "embedded server") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if r := parseReport(t, out); r.Status["201"] != 50 || r.Status["202"] != 50 {
		t.Fatalf("status %v", r.Status)
	}
}

func TestBenchTargetsErrors(t *testing.T) {
	testkit.CheckLeaks(t)
	s := startTarget(t, false)
	other := "http://127.0.0.2:1/x"
	for _, tc := range []struct {
		file string
		args []string
		code int
		msg  string
	}{
		{"GET /a/{{sq}}\n", nil, 2, ":1: URL /a/{{sq}}: unknown placeholder {{sq}}"},
		{"X-A: 1\nGET /\n", nil, 2, ":1: a header (X-A:) belongs after a METHOD URL line"},
		{"\n\nGET\n", nil, 2, `:3: "GET": want METHOD URL`},
		{"GET /\n@/nonexistent/body\n", nil, 2, ":2: body file: stat /nonexistent/body"},
		{"GET /\nX-A: {{nope}}\n", nil, 2, ":1: header X-A: unknown placeholder {{nope}}"},
		{"GET /\nHost: elsewhere\n", nil, 2, "-H Host is not supported"},
		{"G T /\n", nil, 2, "want METHOD URL"},
		{"GET /\nGET " + other + "\n", nil, 2, ":2: " + other + " goes to http://127.0.0.2:1, not to the URL given"},
		{"GET http://{{seq}}.example/\n", nil, 2, "not in the scheme or host"},
		{"GET ftp://x/\n", nil, 2, "scheme must be http or https"},
		{"GET x/y\n", nil, 2, "a target is an absolute URL or a path from /"},
		{`{"url":"/a","wieght":2}` + "\n", nil, 2, `:1: not a JSON target`},
		{`{"url":"/a","weight":0}` + "\n", nil, 2, ":1: weight 0"},
		{`{"url":"/a","body":"x","body_file":"y"}` + "\n", nil, 2, "exclude each other"},
		{`{"url":"/a","header":{"X":1}}` + "\n", nil, 2, "header X: want a string or a list"},
		{"# nothing\n", nil, 2, "no target in the file"},
		{"GET /\n", []string{"-X", "POST"}, 2, "--method does not go with --targets"},
		{"GET /\n", []string{"--body", "x"}, 2, "--body does not go with --targets"},
	} {
		file := writeFile(t, "t", tc.file)
		args := append(append([]string{"bench", "-n", "5", "--targets", file}, tc.args...), s.URL())
		out, errOut, code := cli(t, args...)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d\n%s%s", tc.file, code, tc.code, out, errOut)
			continue
		}
		oneLineError(t, errOut)
		if !strings.Contains(errOut, tc.msg) {
			t.Errorf("%q: %q lacks %q", tc.file, errOut, tc.msg)
		}
	}
	// Paths and URLs mixed need the URL argument; so do targets on two
	// origins, which a run cannot have.
	for file, msg := range map[string]string{
		"GET /a\nGET " + s.URL() + "/b\n":    ":1: /a is a path, and line 2 an absolute URL",
		"GET " + s.URL() + "/\nGET " + other: ":2: " + other + " goes to http://127.0.0.2:1, and the targets before to",
	} {
		_, errOut, code := cli(t, "bench", "-n", "5", "--targets", writeFile(t, "t", file))
		if code != 2 || !strings.Contains(errOut, msg) {
			t.Errorf("%q: exit %d, %q lacks %q", file, code, errOut, msg)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--targets", "/nonexistent/targets"}, 1, "--targets: open /nonexistent/targets"},
		{[]string{"-H", "X-A: {{rand:0}}", s.URL()}, 2, "header X-A: unknown placeholder {{rand:0}}"},
		{[]string{s.URL() + "/{{bad}}"}, 2, "unknown placeholder {{bad}}"},
	} {
		_, errOut, code := cli(t, append([]string{"bench", "-n", "5"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%q: exit %d, %q lacks %q", tc.args, code, errOut, tc.msg)
		}
	}
}
