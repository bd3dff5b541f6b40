//go:build unix

// Package nginxtest runs a real nginx on loopback for tests: a generated
// configuration in the test's temporary directory, a free port, one
// worker, stopped at cleanup. A missing nginx fails the test in CI and
// under scripts/test, and skips it elsewhere (see testkit.RequirePeer);
// scripts/install-deps.sh installs it.
package nginxtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// Config describes one nginx server.
type Config struct {
	// Server is the body of the server block after listen (locations and
	// directives). Dir, in it, is replaced with the server's directory,
	// where Files are written.
	Server string
	// Files are written to the server's directory (for static content).
	Files map[string][]byte
	// CertPEM and KeyPEM, when set, make the server listen with TLS.
	CertPEM, KeyPEM []byte
	// ClientCA, with TLS, requires client certificates signed by it.
	ClientCA []byte
	// HTTP2 offers h2 by ALPN (with TLS).
	HTTP2 bool
}

// Server is a running nginx.
type Server struct {
	Addr string // 127.0.0.1:port
	Dir  string
}

// Start runs nginx as cfg says and stops it when the test ends.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	bin := testkit.RequirePeer(t, "nginx", "scripts/install-deps.sh (Debian package nginx)")
	dir := t.TempDir()
	for name, b := range cfg.Files {
		write(t, dir, name, b)
	}
	tlsConf := ""
	if cfg.CertPEM != nil {
		write(t, dir, "cert.pem", cfg.CertPEM)
		write(t, dir, "key.pem", cfg.KeyPEM)
		tlsConf = fmt.Sprintf("ssl_certificate %[1]s/cert.pem;\n\t\tssl_certificate_key %[1]s/key.pem;\n\t\tssl_protocols TLSv1.2 TLSv1.3;", dir)
		if cfg.ClientCA != nil {
			write(t, dir, "clientca.pem", cfg.ClientCA)
			tlsConf += fmt.Sprintf("\n\t\tssl_client_certificate %s/clientca.pem;\n\t\tssl_verify_client on;", dir)
		}
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers keep access to the temporary directory
	}
	server := bytes.ReplaceAll([]byte(cfg.Server), []byte("Dir"), []byte(dir))
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		listen := "127.0.0.1:" + port
		if cfg.CertPEM != nil {
			listen += " ssl"
			if cfg.HTTP2 {
				listen += " http2"
			}
		}
		conf := fmt.Sprintf(`%[1]s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	ssl_session_cache shared:egress:1m;
	server {
		listen %[3]s;
		server_name localhost;
		%[4]s
		%[5]s
	}
}
`, user, dir, listen, tlsConf, server)
		confPath := write(t, dir, "nginx.conf", []byte(conf))
		cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // workers die with the group
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nginx: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		}
		addr := net.JoinHostPort("127.0.0.1", port)
		if testkit.WaitAccepting(addr, exited) {
			t.Cleanup(stop)
			return &Server{Addr: addr, Dir: dir}
		}
		stop()
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		if attempt == 2 || !bytes.Contains(log, []byte("Address already in use")) {
			t.Fatalf("nginx did not start:\n%s", log)
		}
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func write(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
