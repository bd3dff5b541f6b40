package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/egress-go/egress/target"
)

type serveCmd struct {
	e       *env
	addr    string
	tls     bool
	certOut string
	loops   int
	idle    time.Duration
	reuse   bool
	proto   protoFlags
}

func newServe(e *env) *cobra.Command {
	s := &serveCmd{e: e}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the embedded HTTP target server until interrupted",
		Long: `Run the embedded target server: HTTP/1.1 on the engine's accept side with one
listening socket and event loop per core, keep-alive and pipelining, optional
TLS with a certificate generated at start.

HTTP/2, with curl's flag names: --tls offers h2 by ALPN next to http/1.1 on
the same port (--http2 is the same and implies --tls; --http1.1 keeps TLS to
HTTP/1.1); --http2-prior-knowledge accepts h2c next to HTTP/1.1 on a plain
port. The HTTP/2 modes run on net/http's server (the engine has no server side
of HTTP/2 yet), so --loops does not apply to them.

An address where another server listens is refused (exit 1). The loops'
sockets use SO_REUSEPORT among themselves; --reuseport (two loops or more)
lets them share the port with other processes that ask for it too (several
serve --reuseport, the kernel spreading connections among them).

Endpoints (any method; HEAD gets the head alone):
  /                   "hello, egress\n"
  /bytes/N            N bytes
  /chunked?n=&size=   n chunks of size bytes (defaults 10 and 1024)
  /delay/MS           the hello body after MS milliseconds
  /status/CODE        the given status, 200 to 599
  /echo               the request body back`,
		Example: `  egress serve --addr 127.0.0.1:8080
  egress serve --tls --cert-out ca.pem    # then: egress get --cacert ca.pem https://127.0.0.1:8080/
  egress serve --http2-prior-knowledge    # then: egress bench --http2-prior-knowledge -m 100 http://127.0.0.1:8080/`,
		Args: argsRange(0, 0, "no arguments"),
		RunE: s.run,
	}
	fs := cmd.Flags()
	fs.StringVar(&s.addr, "addr", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	fs.BoolVar(&s.tls, "tls", false, "serve HTTPS with a self-signed certificate made at start")
	fs.StringVar(&s.certOut, "cert-out", "", "with --tls, write the certificate (its own CA) to `file` for clients' --cacert")
	fs.IntVar(&s.loops, "loops", 0, "event loops and listening sockets (default one per core)")
	fs.DurationVar(&s.idle, "idle-timeout", target.DefaultIdleTimeout, "close connections idle this long")
	fs.BoolVar(&s.reuse, "reuseport", false, "share the port with other processes listening with SO_REUSEPORT (HTTP/1.1 only)")
	fs.BoolVar(&s.proto.http2, "http2", false, "serve HTTP/2 over TLS by ALPN, and HTTP/1.1 (implies --tls; the default with --tls)")
	fs.BoolVar(&s.proto.prior, "http2-prior-knowledge", false, "accept HTTP/2 in plain text (h2c) by prior knowledge, and HTTP/1.1")
	fs.BoolVar(&s.proto.http11, "http1.1", false, "serve HTTP/1.1 only, on the engine, also with --tls")
	return cmd
}

func (s *serveCmd) run(cmd *cobra.Command, args []string) error {
	switch {
	case s.loops < 0:
		return usagef("serve: --loops must not be negative")
	case s.idle <= 0:
		return usagef("serve: --idle-timeout must be positive")
	}
	if _, err := s.proto.options("serve"); err != nil {
		return err
	}
	mode := s.mode()
	useTLS := s.tls || mode == target.H2TLS
	switch {
	case s.certOut != "" && !useTLS:
		return usagef("serve: --cert-out needs --tls")
	case mode == target.H2C && s.tls:
		return usagef("serve: --http2-prior-knowledge is HTTP/2 in plain text: drop --tls (--tls alone offers h2 by ALPN)")
	case mode != target.H2None && cmd.Flags().Changed("loops"):
		return usagef("serve: --loops applies to the HTTP/1.1 server on the engine; HTTP/2 runs on net/http's (add --http1.1)")
	case mode != target.H2None && s.reuse:
		return usagef("serve: --reuseport applies to the HTTP/1.1 server on the engine; HTTP/2 runs on net/http's (add --http1.1)")
	case s.reuse && (s.loops == 1 || s.loops == 0 && runtime.GOMAXPROCS(0) == 1):
		// The engine sets SO_REUSEPORT only when each loop has a socket.
		return usagef("serve: --reuseport needs two loops or more (--loops)")
	}
	srv, err := target.Start(target.Config{Addr: s.addr, TLS: useTLS, Loops: s.loops, IdleTimeout: s.idle, HTTP2: mode, ReusePort: s.reuse})
	if errors.Is(err, target.ErrAddrInUse) {
		hint := " (--reuseport shares it with servers started with --reuseport)"
		if mode != target.H2None {
			hint = ""
		}
		return fmt.Errorf("serve: %s is in use by another server; choose another --addr%s", s.addr, hint)
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer srv.Close()
	if s.certOut != "" {
		if err := os.WriteFile(s.certOut, srv.CertificatePEM(), 0o644); err != nil {
			return fmt.Errorf("serve: --cert-out: %w", err)
		}
	}
	var how string
	switch mode {
	case target.H2None:
		how = fmt.Sprintf("HTTP/1.1, %d loops", srv.Engine().NumLoops())
	case target.H2TLS:
		how = "h2 and http/1.1 by ALPN, on net/http's server"
	case target.H2C:
		how = "h2c by prior knowledge and HTTP/1.1, on net/http's server"
	}
	fmt.Fprintf(s.e.stdout, "egress serve: listening on %s (%s); Ctrl-C stops\n", srv.URL(), how)
	<-cmd.Context().Done()
	st := srv.Stats()
	srv.Close()
	fmt.Fprintf(s.e.stdout, "egress serve: stopped after %d requests on %d connections\n", st.Requests, st.Accepted)
	return nil
}

// mode maps the protocol switches to the target's HTTP/2 mode: TLS offers
// h2 unless --http1.1, as https does on the client side.
func (s *serveCmd) mode() target.HTTP2Mode {
	switch {
	case s.proto.http11:
		return target.H2None
	case s.proto.prior:
		return target.H2C
	case s.proto.http2 || s.tls:
		return target.H2TLS
	}
	return target.H2None
}
