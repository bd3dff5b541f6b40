package target

import (
	"net/http"
	"testing"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/internal/testkit"
)

// start starts a server for one test, with a leak check and Close as
// cleanups (the leak check runs last).
func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	testkit.CheckLeaks(t)
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// client returns a net/http client for s whose idle connections are closed
// when the test ends.
func client(t *testing.T, s *Server) *http.Client {
	tr := &http.Transport{TLSClientConfig: s.ClientTLSConfig(), DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

var backends = []engine.Backend{engine.BackendPoll, engine.BackendNet}
