package redis

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/egress-go/egress/internal/testkit"
)

// serverConfig describes a redis-server run by a test.
type serverConfig struct {
	Extra   []string // more configuration lines
	TLS     bool     // listen with TLS only, with a generated certificate
	TLSCert *testCert
}

// server is a redis-server on loopback, with its own port, directory and
// configuration, no persistence.
type server struct {
	t    testing.TB
	bin  string
	dir  string
	conf string
	Addr string
	Port int
	mu   sync.Mutex
	cmd  *exec.Cmd
	tls  bool
	cert *testCert
}

// redisBinary returns the path of redis-server. A missing one fails the
// test in CI and under scripts/test, and skips it elsewhere.
func redisBinary(t testing.TB) string {
	t.Helper()
	return testkit.RequirePeer(t, "redis-server", "scripts/install-deps.sh (Debian package redis-server)")
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startServer runs a redis-server and stops it at the test's end.
func startServer(t testing.TB, cfg serverConfig) *server {
	t.Helper()
	s := newServer(t, cfg, "")
	t.Cleanup(s.stop)
	return s
}

func newServer(t testing.TB, cfg serverConfig, dir string) *server {
	t.Helper()
	bin := redisBinary(t)
	if dir == "" {
		dir = t.TempDir()
	}
	s := &server{t: t, bin: bin, dir: dir, tls: cfg.TLS, cert: cfg.TLSCert}
	s.Port = freePort(t)
	s.Addr = "127.0.0.1:" + strconv.Itoa(s.Port)
	lines := []string{
		"bind 127.0.0.1",
		`save ""`,
		"appendonly no",
		"daemonize no",
		"dir " + dir,
		"logfile " + filepath.Join(dir, "redis.log"),
		"enable-debug-command local",
	}
	if cfg.TLS {
		c := cfg.TLSCert
		write := func(name string, b []byte) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		lines = append(lines, "port 0", "tls-port "+strconv.Itoa(s.Port),
			"tls-cert-file "+write("cert.pem", c.CertPEM),
			"tls-key-file "+write("key.pem", c.KeyPEM),
			"tls-ca-cert-file "+write("ca.pem", c.CertPEM),
			"tls-auth-clients no")
	} else {
		lines = append(lines, "port "+strconv.Itoa(s.Port))
	}
	lines = append(lines, cfg.Extra...)
	s.conf = filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(s.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	return s
}

// start runs the server on its port and waits until it accepts.
func (s *server) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, s.conf)
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			s.t.Fatalf("redis-server did not start on %s: %v\n%s", s.Addr, err, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill stops the server at once (SIGKILL), as a crash would.
func (s *server) kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

func (s *server) stop() { s.kill() }

// raw sends one command over a plain connection and returns the raw
// reply bytes read within a short time (for the codec tests).
func (s *server) raw(t testing.TB, payload string, want int) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(payload)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	var out []byte
	buf := make([]byte, 64<<10)
	for len(out) < want {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	return out
}

// The shared server serves the tests that need no special configuration;
// each such test uses keys under its own prefix.
var (
	sharedOnce sync.Once
	shared     *server
	sharedErr  string
)

func sharedServer(t *testing.T) *server {
	t.Helper()
	redisBinary(t)
	sharedOnce.Do(func() {
		st := &onceTB{TB: t}
		func() {
			defer func() { recover() }()
			shared = newServer(st, serverConfig{}, mustTempDir())
		}()
		if shared == nil {
			sharedErr = st.msg
		}
	})
	if shared == nil {
		t.Fatalf("shared redis-server: %s", sharedErr)
	}
	return shared
}

func mustTempDir() string {
	d, err := os.MkdirTemp("", "egress-redis-")
	if err != nil {
		panic(err)
	}
	return d
}

// onceTB lets the shared server be started with a test's TB without tying
// its life to that test.
type onceTB struct {
	testing.TB
	msg string
}

func (o *onceTB) Fatal(args ...any) { o.msg = fmt.Sprint(args...); panic(o.msg) }
func (o *onceTB) Fatalf(format string, args ...any) {
	o.msg = fmt.Sprintf(format, args...)
	panic(o.msg)
}
func (o *onceTB) Helper() {}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.kill()
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// newTestClient returns a client for s, closed at the test's end, after
// the leak check was registered.
func newTestClient(t *testing.T, o Options) *Client {
	t.Helper()
	c, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
