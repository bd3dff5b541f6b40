package egress

import (
	"context"

	"github.com/egress-go/egress/http2"
)

// HTTP2Settings returns the settings in effect on each of the transport's
// open HTTP/2 connections, as the servers set them by SETTINGS (the
// protocol's defaults for those a server did not name). It is for
// diagnostics, such as `egress get -v`: each connection's loop is asked
// in turn, and a connection whose loop does not answer before ctx ends
// is left out.
func (t *Transport) HTTP2Settings(ctx context.Context) []http2.PeerSettings {
	t.h2mu.Lock()
	conns := make([]*h2conn, 0, len(t.h2conns))
	for h := range t.h2conns {
		conns = append(conns, h)
	}
	t.h2mu.Unlock()
	var out []http2.PeerSettings
	for _, h := range conns {
		got := make(chan http2.PeerSettings, 1)
		// The protocol state belongs to the connection's loop.
		if !h.c.Loop().Post(func() { got <- h.proto.Peer() }) {
			continue
		}
		select {
		case s := <-got:
			out = append(out, s)
		case <-ctx.Done():
			return out
		}
	}
	return out
}
