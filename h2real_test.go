//go:build unix

package egress

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/egress-go/egress/internal/nginxtest"
	"github.com/egress-go/egress/internal/testkit"
)

// HTTP/2 against real servers: nginx over TLS (h2 by ALPN) and nghttpd,
// nghttp2's own server, in plain text (h2c with prior knowledge) and over
// TLS. Each serves a small and a large file, takes an upload, and carries
// many concurrent streams on one connection.

// h2Files are the files the real servers serve: a small one and a large
// one whose bytes do not repeat at any short period.
func h2Files() (small, large []byte) {
	small = []byte("hello from a real HTTP/2 server\n")
	var b bytes.Buffer
	for i := 0; b.Len() < 2<<20; i++ {
		s := sha256.Sum256([]byte(strconv.Itoa(i)))
		b.Write(s[:])
	}
	return small, b.Bytes()
}

// h2RealSuite runs the checks every real server passes: base is its URL
// and upload says how to send a body and read what the server made of
// it (the echo for nghttpd, the file written for nginx).
func h2RealSuite(t *testing.T, tr *Transport, base string, small, large []byte, upload func(t *testing.T, client *http.Client, body []byte) []byte) {
	client := &http.Client{Transport: tr}
	get := func(path string) []byte {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" || resp.ProtoMajor != 2 {
			t.Fatalf("GET %s: %s %s, %d bytes, %v", path, resp.Proto, resp.Status, len(b), err)
		}
		return b
	}
	if b := get("/small.txt"); !bytes.Equal(b, small) {
		t.Fatalf("small file: %q", b)
	}
	if b := get("/large.bin"); !bytes.Equal(b, large) {
		t.Fatalf("large file: %d bytes of %d, differing", len(b), len(large))
	}
	up := large[:3<<19+5] // 1.5 MiB
	if got := upload(t, client, up); !bytes.Equal(got, up) {
		t.Fatalf("upload: the server has %d bytes of %d, differing", len(got), len(up))
	}
	// Many streams at once, on the one connection.
	const streams = 100
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path, want := "/small.txt", small
			if i%10 == 0 {
				path, want = "/large.bin", large
			}
			resp, err := client.Get(base + path)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(b, want) || resp.ProtoMajor != 2 {
				errs <- fmt.Errorf("%s: %s, %d bytes, %v", path, resp.Proto, len(b), err)
			}
		}()
	}
	waitGroup(t, &wg, "the concurrent requests")
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := tr.Stats()
	if st.Pool.Dials != 1 || st.Failures != 0 || st.Retries != 0 || st.Pool.Streams < streams {
		t.Fatalf("%d dials, %d failures, %d retries, %d stream reuses; want every request on one connection", st.Pool.Dials, st.Failures, st.Retries, st.Pool.Streams)
	}
}

func TestH2Nginx(t *testing.T) {
	testkit.CheckLeaks(t)
	small, large := h2Files()
	certPEM, keyPEM, roots := selfSigned(t)
	srv := nginxtest.Start(t, nginxtest.Config{
		HTTP2: true, CertPEM: certPEM, KeyPEM: keyPEM,
		Files: map[string][]byte{"www/small.txt": small, "www/large.bin": large},
		Server: `
	root Dir/www;
	location /up/ { root Dir; dav_methods PUT; create_full_put_path on; client_max_body_size 16m; }
	location = /post { client_max_body_size 16m; return 200 "posted"; }
`,
	})
	tr := newTestTransport(t, Options{TLSClientConfig: &tls.Config{RootCAs: roots}})
	base := "https://" + srv.Addr
	h2RealSuite(t, tr, base, small, large, func(t *testing.T, client *http.Client, body []byte) []byte {
		// A PUT of a streamed body of unknown length, which nginx writes
		// to a file, read back from disk.
		req, _ := http.NewRequest("PUT", base+"/up/file", io.NopCloser(bytes.NewReader(body)))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || resp.ProtoMajor != 2 {
			t.Fatalf("PUT: %s %s", resp.Proto, resp.Status)
		}
		// And a POST, which nginx reads and answers.
		resp, err = client.Post(base+"/post", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "posted" {
			t.Fatalf("POST: %s %q", resp.Status, b)
		}
		got, err := os.ReadFile(filepath.Join(srv.Dir, "up", "file"))
		if err != nil {
			t.Fatal(err)
		}
		return got
	})
}

func TestH2Nghttpd(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := "h2c"
		if useTLS {
			name = "TLS"
		}
		t.Run(name, func(t *testing.T) {
			testkit.CheckLeaks(t)
			small, large := h2Files()
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "small.txt"), small, 0o644)
			os.WriteFile(filepath.Join(dir, "large.bin"), large, 0o644)
			opts := Options{HTTP2: HTTP2Options{PriorKnowledge: true}}
			var keyFiles []string
			scheme := "http"
			if useTLS {
				certPEM, keyPEM, roots := selfSigned(t)
				keyFiles = []string{filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")}
				os.WriteFile(keyFiles[0], keyPEM, 0o600)
				os.WriteFile(keyFiles[1], certPEM, 0o644)
				opts = Options{TLSClientConfig: &tls.Config{RootCAs: roots}}
				scheme = "https"
			}
			addr := startNghttpd(t, dir, keyFiles...)
			tr := newTestTransport(t, opts)
			base := scheme + "://" + addr
			h2RealSuite(t, tr, base, small, large, func(t *testing.T, client *http.Client, body []byte) []byte {
				// nghttpd --echo-upload sends a POST's body back.
				resp, err := client.Post(base+"/echo", "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 2 {
					t.Fatalf("POST: %s %s, %v", resp.Proto, resp.Status, err)
				}
				return b
			})
		})
	}
}

// startNghttpd runs nghttpd on a free loopback port, serving dir and
// echoing uploads, in plain text or, given a key and a certificate file,
// over TLS; it is killed when the test ends. It returns the address once
// the server accepts connections.
func startNghttpd(t *testing.T, dir string, keyCert ...string) string {
	t.Helper()
	bin := testkit.RequirePeer(t, "nghttpd", "scripts/install-deps.sh (Debian package nghttp2-server)")
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		ln.Close() // a free port, most likely still free when nghttpd binds it
		args := []string{"-a", "127.0.0.1", "-d", dir, "--echo-upload"}
		if len(keyCert) == 0 {
			args = append(args, "--no-tls", port)
		} else {
			args = append(append(args, port), keyCert...)
		}
		var out bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nghttpd: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		addr := net.JoinHostPort("127.0.0.1", port)
		if testkit.WaitAccepting(addr, exited) {
			t.Cleanup(stop)
			return addr
		}
		stop()
		if attempt == 2 || !strings.Contains(out.String(), "in use") {
			t.Fatalf("nghttpd %s did not start:\n%s", strings.Join(args, " "), out.String())
		}
	}
}
