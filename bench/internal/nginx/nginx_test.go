package nginx

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/egress-go/egress/internal/testkit"
)

func TestRender(t *testing.T) {
	conf := Render(Config{Prefix: "/p", Port: 8081, Connections: 1024})
	for _, want := range []string{
		"worker_processes 1;",
		"daemon off;",
		"access_log off;",
		"keepalive_requests 1000000000;",
		"worker_connections 1024;",
		"listen 127.0.0.1:8081 backlog=4096;",
		"pid /p/nginx.pid;",
		"root /p/www;",
		`location = /small {`,
		`return 200 "hello, world\n";`,
		"location = /big.bin {",
		"client_body_temp_path /p/tmp/body;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "user root") {
		t.Error("user root without Root")
	}
	if !strings.Contains(Render(Config{Prefix: "/p", Root: true}), "user root;") {
		t.Error("Root: no user root")
	}
	if strings.Contains(conf, "ssl") {
		t.Error("ssl without TLS")
	}
	tlsConf := Render(Config{Prefix: "/p", Port: 8443, Connections: 1024, TLS: true})
	for _, want := range []string{
		"listen 127.0.0.1:8443 ssl http2 backlog=4096;",
		"ssl_certificate /p/cert.pem;",
		"ssl_certificate_key /p/key.pem;",
		"ssl_protocols TLSv1.3;",
	} {
		if !strings.Contains(tlsConf, want) {
			t.Errorf("TLS config lacks %q:\n%s", want, tlsConf)
		}
	}
	if len(SmallBody) != 13 {
		t.Fatalf("small body is %d bytes", len(SmallBody))
	}
}

// TestStartServes starts the real nginx and fetches both resources once:
// a check of the configuration, not a benchmark. A missing nginx fails it
// in CI and under scripts/test, and skips it elsewhere.
func TestStartServes(t *testing.T) {
	testkit.CheckLeaks(t)
	bin := testkit.RequirePeer(t, "nginx", "scripts/install-deps.sh (Debian package nginx)")
	// Start runs nginx by name; it may have been found outside PATH.
	t.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	s, err := Start(t.TempDir(), -1, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for path, size := range map[string]int{SmallPath: len(SmallBody), BigPath: BigSize} {
		resp, err := http.Get(s.URL(path))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(b) != size {
			t.Fatalf("%s: %v %d, %d bytes, want %d", path, err, resp.StatusCode, len(b), size)
		}
	}
	if s.CPU() < 0 {
		t.Fatal("negative CPU")
	}
}
