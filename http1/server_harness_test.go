package http1

import (
	"fmt"
	"strings"
)

// reqResult is everything a RequestParser reported for a connection's
// input, rendered so that different splits of the input compare equal.
type reqResult struct {
	events []string
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

// parseRequests feeds chunks to p as an event loop would (copying each
// chunk into a scratch buffer that is overwritten afterwards, so a slice
// kept too long shows up as garbage), then calls EOF.
func parseRequests(p *RequestParser, chunks [][]byte) *reqResult {
	p.Reset()
	r := &reqResult{}
	body := -1
	bodyRun := false
	record := func(ev Event) {
		if ev != EventBody {
			bodyRun = false
		}
		switch ev {
		case EventHead:
			r.bodies = append(r.bodies, "")
			body = len(r.bodies) - 1
			r.events = append(r.events, fmt.Sprintf("head %s %s 1.%d [%s] cl=%d chunked=%v ka=%v expect=%v body=%v",
				p.Method(), p.Target(), p.ProtoMinor(), renderFields(p.Fields()),
				p.ContentLength(), p.Chunked(), p.KeepAlive(), p.ExpectContinue(), p.HasBody()))
		case EventBody:
			if len(p.Body()) == 0 {
				r.events = append(r.events, "EMPTY BODY EVENT")
			}
			r.bodies[body] += string(p.Body())
			if !bodyRun {
				r.events = append(r.events, "body")
				bodyRun = true
			}
		case EventTrailers:
			r.events = append(r.events, "trailers ["+renderFields(p.TrailerFields())+"]")
		case EventDone:
			r.events = append(r.events, fmt.Sprintf("done read=%d", p.BodyRead()))
		}
	}
	for _, c := range chunks {
		in := append([]byte(nil), c...)
		scratch := in
		for {
			ev, n, err := p.Feed(in)
			if n < 0 || n > len(in) {
				r.err = fmt.Errorf("Feed consumed %d of %d bytes", n, len(in))
				return r
			}
			if ev == EventNone && err == nil && n != len(in) {
				r.err = fmt.Errorf("EventNone after consuming %d of %d bytes", n, len(in))
				return r
			}
			in = in[n:]
			if err != nil {
				r.err = err
				r.done = p.Done()
				return r
			}
			if ev == EventNone {
				break
			}
			record(ev)
		}
		for i := range scratch {
			scratch[i] = '#'
		}
	}
	r.eofErr = p.EOF()
	r.done = p.Done()
	return r
}
