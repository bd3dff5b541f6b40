// Package egress is an HTTP/1.1 and HTTP/2 client built on the engine's
// event loops. https connections offer h2 by ALPN and use what the server
// picks; plain http can speak h2c with prior knowledge
// (HTTP2Options.PriorKnowledge). Both protocols sit behind the same API.
//
// Transport implements http.RoundTripper, so http.Client (redirects,
// cookies) and any SDK that accepts a transport work unchanged:
//
//	t, _ := egress.NewTransport(egress.Options{})
//	defer t.Close()
//	client := &http.Client{Transport: t}
//
// Response bodies are streamed: the loop copies what arrives into a bounded
// window that the body's reader drains, and when the reader falls behind
// the loop stops reading that socket, so a download of any size runs in
// bounded memory.
//
// Transport.Send is the non-blocking API: an Exchange carries a request
// and callbacks that run on the connection's loop when the response head,
// body bytes and the end arrive. It needs no goroutine per request in
// flight and, with a reused Exchange, no allocation per request: this is
// what keeps a million requests in flight from one process.
//
// Connections are kept alive through package pool (LIFO reuse, limits,
// expiry) and go back only when clean: the whole response was read, the
// framing was valid, the request body was fully sent and neither side said
// "Connection: close". A request that fails on a reused connection before
// any response byte arrives, and that can be replayed, is retried once on
// another connection.
//
// ARCHITECTURE.md, at the root of the repository, follows one request and
// one response body through the code, hop by hop.
package egress
