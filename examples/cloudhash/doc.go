// Package cloudhash is a tiny key-value service over newline-framed text,
// the running example of the TCP sockets book that shaped egress, rebuilt
// on the engine: a server on the engine's accept side, in the evented and
// hybrid patterns, and a client that reuses pooled connections instead of
// dialing per request.
//
// The protocol, one line per request and per reply:
//
//	SET key value   ->  OK
//	GET key         ->  VALUE value   or   NIL
//	anything else   ->  ERR message
//
// Keys are single words; a value is the rest of the line and may contain
// spaces. Requests may be pipelined: a server answers them in order.
package cloudhash
