package http1

import (
	"errors"
	"fmt"
	"strings"
)

// result is everything a parser reported for one response, in a form that
// can be compared across different splits of the same input.
type result struct {
	eventLog
	body     string
	trailers string
	err      error // the first error from Feed or EOF
	done     bool  // Done() at the end

	// From the final head, if one was reported.
	head                                            bool
	status, minor                                   int
	cl                                              int64
	chunked, closeDelim, keepAlive, tunnel, hasBody bool
	fields                                          string
}

// String renders r canonically. The excerpt quoted by ErrExtraData depends
// on where the input was split (it is whatever had arrived), so only its
// sentinel is rendered.
func (r *result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "events=%s\n", strings.Join(r.events, " | "))
	fmt.Fprintf(&b, "body=%q trailers=%q\n", r.body, r.trailers)
	if r.head {
		fmt.Fprintf(&b, "head status=%d minor=%d cl=%d chunked=%v closeDelim=%v keepAlive=%v tunnel=%v hasBody=%v\n",
			r.status, r.minor, r.cl, r.chunked, r.closeDelim, r.keepAlive, r.tunnel, r.hasBody)
	}
	fmt.Fprintf(&b, "done=%v err=%s\n", r.done, errString(r.err))
	return b.String()
}

func errString(err error) string {
	switch {
	case err == nil:
		return "<nil>"
	case errors.Is(err, ErrExtraData):
		return ErrExtraData.Error()
	}
	return err.Error()
}

func renderFields(fs []RawField) string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", f.Name, f.Value)
	}
	return b.String()
}

// eventLog lists the events a parser reported, in a form that does not
// depend on how the input was split: a run of body events, whose number
// does, is listed once as "body".
type eventLog struct {
	events  []string
	bodyRun bool // the last event listed was a body event
}

func (l *eventLog) add(event string) {
	l.events = append(l.events, event)
	l.bodyRun = false
}

// addBody lists a body event. An empty one is a bug (Feed must not
// report nothing as body), so it is listed on its own, whatever the split.
func (l *eventLog) addBody(body []byte) {
	if len(body) == 0 {
		l.events = append(l.events, "EMPTY BODY EVENT")
	}
	if !l.bodyRun {
		l.events = append(l.events, "body")
		l.bodyRun = true
	}
}

// feeder is what feedChunks needs of a parser; both have it.
type feeder interface {
	Feed(in []byte) (Event, int, error)
}

// feedChunks feeds chunks to p as an event loop would, checking Feed's
// contract on the bytes it consumes, and passes each event to record with
// the input left after it. Each chunk is copied into a scratch buffer that
// is overwritten after the parser has seen it, so any slice the parser
// kept past its documented lifetime shows up as garbage.
//
// record returns false to stop feeding (after a tunnel's EventDone, the
// rest is another protocol's); the chunks after the current one are then
// returned unfed. The error is Feed's, or a broken contract.
func feedChunks(p feeder, chunks [][]byte, record func(ev Event, rest []byte) bool) (unfed [][]byte, err error) {
	for i, c := range chunks {
		in := append([]byte(nil), c...)
		scratch := in
		stop := false
		for !stop {
			ev, n, err := p.Feed(in)
			if n < 0 || n > len(in) {
				return nil, fmt.Errorf("Feed consumed %d of %d bytes", n, len(in))
			}
			if ev == EventNone && err == nil && n != len(in) {
				return nil, fmt.Errorf("EventNone after consuming %d of %d bytes", n, len(in))
			}
			in = in[n:]
			if err != nil {
				return nil, err
			}
			if ev == EventNone {
				break
			}
			stop = !record(ev, in)
		}
		for i := range scratch {
			scratch[i] = '#'
		}
		if stop {
			return chunks[i+1:], nil
		}
	}
	return nil, nil
}

// parse runs a fresh parser over chunks with feedChunks, then calls EOF
// if eof is set.
func parse(p *ResponseParser, method string, chunks [][]byte, eof bool) *result {
	p.Reset(method)
	r := &result{}
	tunnel := false
	record := func(ev Event, rest []byte) bool {
		switch ev {
		case EventInformational:
			r.add(fmt.Sprintf("1xx %d %q [%s]", p.StatusCode(), p.Reason(), renderFields(p.Fields())))
		case EventHead:
			r.head = true
			r.status, r.minor = p.StatusCode(), p.ProtoMinor()
			r.cl, r.chunked, r.closeDelim = p.ContentLength(), p.Chunked(), p.CloseDelimited()
			r.keepAlive, r.tunnel, r.hasBody = p.KeepAlive(), p.Tunnel(), p.HasBody()
			r.fields = renderFields(p.Fields())
			r.add(fmt.Sprintf("head %d %q [%s]", p.StatusCode(), p.Reason(), r.fields))
		case EventBody:
			r.addBody(p.Body())
			r.body += string(p.Body())
		case EventTrailers:
			r.trailers = renderFields(p.TrailerFields())
			r.add("trailers [" + r.trailers + "]")
		case EventDone:
			r.add("done")
			if p.Tunnel() {
				// The rest belongs to another protocol: not fed.
				tunnel = true
				r.body = string(rest)
				return false
			}
		}
		return true
	}
	unfed, err := feedChunks(p, chunks, record)
	if err != nil {
		r.err = err
		r.done = p.Done()
		return r
	}
	for _, c := range unfed {
		r.body += string(c)
	}
	if eof && !tunnel {
		r.err = p.EOF()
	}
	r.done = p.Done()
	return r
}

// whole feeds in as one slice and then signals EOF.
func whole(method, in string) *result {
	var p ResponseParser
	return parse(&p, method, [][]byte{[]byte(in)}, true)
}
