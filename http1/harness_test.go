package http1

import (
	"errors"
	"fmt"
	"strings"
)

// result is everything a parser reported for one response, in a form that
// can be compared across different splits of the same input.
type result struct {
	events   []string // one entry per event, consecutive body events merged
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

// parse runs a fresh parser over chunks, as an event loop would, then
// calls EOF if eof is set. Each chunk is copied into a scratch buffer that
// is overwritten after the parser has seen it, so any slice the parser
// kept past its documented lifetime shows up as garbage.
func parse(p *ResponseParser, method string, chunks [][]byte, eof bool) *result {
	p.Reset(method)
	r := &result{}
	bodyRun := false
	record := func(ev Event) {
		if ev != EventBody {
			bodyRun = false
		}
		switch ev {
		case EventInformational:
			r.events = append(r.events, fmt.Sprintf("1xx %d %q [%s]", p.StatusCode(), p.Reason(), renderFields(p.Fields())))
		case EventHead:
			r.head = true
			r.status, r.minor = p.StatusCode(), p.ProtoMinor()
			r.cl, r.chunked, r.closeDelim = p.ContentLength(), p.Chunked(), p.CloseDelimited()
			r.keepAlive, r.tunnel, r.hasBody = p.KeepAlive(), p.Tunnel(), p.HasBody()
			r.fields = renderFields(p.Fields())
			r.events = append(r.events, fmt.Sprintf("head %d %q [%s]", p.StatusCode(), p.Reason(), r.fields))
		case EventBody:
			if len(p.Body()) == 0 {
				r.events = append(r.events, "EMPTY BODY EVENT")
			}
			r.body += string(p.Body())
			if !bodyRun {
				r.events = append(r.events, "body")
				bodyRun = true
			}
		case EventTrailers:
			r.trailers = renderFields(p.TrailerFields())
			r.events = append(r.events, "trailers ["+r.trailers+"]")
		case EventDone:
			r.events = append(r.events, "done")
		}
	}
	tunnel := false
	for _, c := range chunks {
		if tunnel {
			r.body += string(c)
			continue
		}
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
			if ev == EventDone && p.Tunnel() {
				// The rest belongs to another protocol: not fed.
				tunnel = true
				r.body = string(in)
				break
			}
		}
		for i := range scratch {
			scratch[i] = '#'
		}
	}
	if tunnel {
		r.done = p.Done()
		return r
	}
	if eof {
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

// splitAt returns in cut at the given offsets.
func splitAt(in []byte, cuts ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, c := range cuts {
		out = append(out, in[prev:c])
		prev = c
	}
	return append(out, in[prev:])
}

func bytewise(in []byte) [][]byte {
	out := make([][]byte, len(in))
	for i := range in {
		out[i] = in[i : i+1]
	}
	return out
}
