package http1

import (
	"fmt"
	"strings"
)

// reqResult is everything a RequestParser reported for a connection's
// input, rendered so that different splits of the input compare equal.
type reqResult struct {
	eventLog
	bodies []string // one per request
	err    error
	eofErr error
	done   bool
}

func (r *reqResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "events=%s\n", strings.Join(r.events, " | "))
	fmt.Fprintf(&b, "bodies=%q\n", r.bodies)
	fmt.Fprintf(&b, "err=%s eof=%s done=%v\n", errString(r.err), errString(r.eofErr), r.done)
	return b.String()
}

// parseRequests feeds chunks to p with feedChunks, then calls EOF.
func parseRequests(p *RequestParser, chunks [][]byte) *reqResult {
	p.Reset()
	r := &reqResult{}
	body := -1
	record := func(ev Event, _ []byte) bool {
		switch ev {
		case EventHead:
			r.bodies = append(r.bodies, "")
			body = len(r.bodies) - 1
			r.add(fmt.Sprintf("head %s %s 1.%d [%s] cl=%d chunked=%v ka=%v expect=%v body=%v",
				p.Method(), p.Target(), p.ProtoMinor(), renderFields(p.Fields()),
				p.ContentLength(), p.Chunked(), p.KeepAlive(), p.ExpectContinue(), p.HasBody()))
		case EventBody:
			r.addBody(p.Body())
			r.bodies[body] += string(p.Body())
		case EventTrailers:
			r.add("trailers [" + renderFields(p.TrailerFields()) + "]")
		case EventDone:
			r.add(fmt.Sprintf("done read=%d", p.BodyRead()))
		}
		return true
	}
	if _, err := feedChunks(p, chunks, record); err != nil {
		r.err = err
		r.done = p.Done()
		return r
	}
	r.eofErr = p.EOF()
	r.done = p.Done()
	return r
}
