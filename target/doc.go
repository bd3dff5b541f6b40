// Package target is egress's embedded HTTP test server: what `egress bench`
// with no URL measures, what `egress serve` runs, and what the tests and
// examples talk to. It speaks HTTP/1.1 on the engine and, on request,
// HTTP/2 (see below).
//
// The HTTP/1.1 path runs on the engine's accept side in the hybrid
// pattern: one listening socket per loop (SO_REUSEPORT), so each loop accepts and serves its own
// connections with no hand-off between goroutines. Start refuses an
// address where another socket listens (ErrAddrInUse), rather than let
// SO_REUSEPORT share the port with another process, unless
// Config.ReusePort asks for that. Requests are parsed by
// http1.RequestParser and answered from the loop without blocking it:
// delays are loop timers, and large bodies are generated as the socket
// drains, so a response of any size costs a bounded amount of memory.
//
// Endpoints (any method; HEAD gets the head alone):
//
//	/               "hello, egress\n"
//	/bytes/N        N bytes (application/octet-stream)
//	/chunked?n=&size=
//	                n chunks of size bytes, chunked (defaults 10 and 1024)
//	/delay/MS       "hello, egress\n" after MS milliseconds
//	/status/CODE    the given status (200 to 599) with a short body
//	/echo           the request body back, with its Content-Type; a
//	                chunked request gets a chunked response
//
// Connections are kept alive (HTTP/1.1, or HTTP/1.0 with keep-alive) and
// pipelined requests are answered in order. With Config.TLS the server
// speaks TLS with a self-signed certificate made at start; ClientTLSConfig
// returns a configuration that trusts it.
//
// HTTP/2 (Config.HTTP2): H2TLS offers h2 by ALPN and falls back to
// http/1.1 on the same TLS listener; H2C accepts HTTP/2 by prior knowledge
// and HTTP/1.1 on the same port. These modes run on net/http's server, not
// on the engine: the engine has no server side of HTTP/2 yet, and a target
// is only useful if it speaks the protocol correctly. They answer the same
// endpoints with the same bodies and bounds (the routes are parsed by the
// same code), but cost goroutines per connection and per stream, so a
// benchmark against them measures net/http's server as much as the client.
// Loops and Backend do not apply there, and Engine returns nil.
package target
