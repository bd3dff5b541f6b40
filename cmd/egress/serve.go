package main

import (
	"fmt"
	"os"
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
}

func newServe(e *env) *cobra.Command {
	s := &serveCmd{e: e}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the embedded HTTP/1.1 target server until interrupted",
		Long: `Run the embedded target server: the engine's accept side with one listening
socket and event loop per core, keep-alive and pipelining, optional TLS with a
certificate generated at start.

Endpoints (any method; HEAD gets the head alone):
  /                   "hello, egress\n"
  /bytes/N            N bytes
  /chunked?n=&size=   n chunks of size bytes (defaults 10 and 1024)
  /delay/MS           the hello body after MS milliseconds
  /status/CODE        the given status, 200 to 599
  /echo               the request body back`,
		Example: `  egress serve --addr 127.0.0.1:8080
  egress serve --tls --cert-out ca.pem    # then: egress get --cacert ca.pem https://127.0.0.1:8443/`,
		Args: argsRange(0, 0, "no arguments"),
		RunE: s.run,
	}
	fs := cmd.Flags()
	fs.StringVar(&s.addr, "addr", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	fs.BoolVar(&s.tls, "tls", false, "serve HTTPS with a self-signed certificate made at start")
	fs.StringVar(&s.certOut, "cert-out", "", "with --tls, write the certificate (its own CA) to `file` for clients' --cacert")
	fs.IntVar(&s.loops, "loops", 0, "event loops and listening sockets (default one per core)")
	fs.DurationVar(&s.idle, "idle-timeout", target.DefaultIdleTimeout, "close connections idle this long")
	return cmd
}

func (s *serveCmd) run(cmd *cobra.Command, args []string) error {
	switch {
	case s.loops < 0:
		return usagef("serve: --loops must not be negative")
	case s.idle <= 0:
		return usagef("serve: --idle-timeout must be positive")
	case s.certOut != "" && !s.tls:
		return usagef("serve: --cert-out needs --tls")
	}
	srv, err := target.Start(target.Config{Addr: s.addr, TLS: s.tls, Loops: s.loops, IdleTimeout: s.idle})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer srv.Close()
	if s.certOut != "" {
		if err := os.WriteFile(s.certOut, srv.CertificatePEM(), 0o644); err != nil {
			return fmt.Errorf("serve: --cert-out: %w", err)
		}
	}
	fmt.Fprintf(s.e.stdout, "egress serve: listening on %s (%d loops); Ctrl-C stops\n", srv.URL(), srv.Engine().NumLoops())
	<-cmd.Context().Done()
	st := srv.Stats()
	srv.Close()
	fmt.Fprintf(s.e.stdout, "egress serve: stopped after %d requests on %d connections\n", st.Requests, st.Accepted)
	return nil
}
