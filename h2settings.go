package egress

import (
	"context"
	"errors"

	"github.com/egress-go/egress/http2"
)

// ErrNoStreams fails a request that waited on an HTTP/2 connection whose
// server allowed no stream (SETTINGS_MAX_CONCURRENT_STREAMS 0) for
// HTTP2Options.PingTimeout without the server allowing one.
//
// RFC 9113 (section 5.1.2) lets a server advertise 0 for a while. A
// request that got a stream slot of such a connection (it was dialed for
// it, or the server lowered its limit before the request's HEADERS went
// out, or refused them with REFUSED_STREAM) keeps that slot and waits on
// the connection; it does not dial another meanwhile. When a SETTINGS
// raises the limit, it opens there as room allows. A refused request
// goes again (counted in Stats.Retries) there too, unless its body is
// streamed: that body is rewound and the request replayed through the
// pool, which finds the room there unless another request took it. Its
// context and PingTimeout bound the wait. Requests that come while the
// limit is 0 find no room on that connection and go to another, as when
// a connection is full. A connection at 0 with no stream open and no
// request waiting on it closes (GOAWAY) rather than count against
// pool.Config.MaxTotalPerKey.
var ErrNoStreams = errors.New("egress: the HTTP/2 server allows no streams (SETTINGS_MAX_CONCURRENT_STREAMS 0)")

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
