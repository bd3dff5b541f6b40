package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Before a run, bench checks what would otherwise fail only at its end or
// halfway through: that the report files can be written, that the
// process may open the files (sockets) -c asks for, and that --loops is
// within sense.

// outFile is a report file opened before the run, so that a path that
// cannot be written fails at once, not after a run of minutes.
type outFile struct {
	flag, name string
	f          *os.File
	// created says the file did not exist before: it is removed again
	// when the run makes no report, and an earlier file is kept as it
	// was (it is truncated only when the new report is written).
	created bool
}

// openOut opens name for writing, creating it if need be.
func openOut(flag, name string) (*outFile, error) {
	_, statErr := os.Stat(name)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: cannot write the report there: %w", flag, err)
	}
	return &outFile{flag: flag, name: name, f: f, created: errors.Is(statErr, os.ErrNotExist)}, nil
}

// replace writes the file's new content, all of it.
func (o *outFile) replace(write func(io.Writer) error) error {
	f := o.f
	o.f = nil
	err := f.Truncate(0)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err == nil {
		bw := bufio.NewWriter(f)
		if err = write(bw); err == nil {
			err = bw.Flush()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bench: %s: %w", o.flag, err)
	}
	return nil
}

// discard closes a file the run did not write, removing it if the run
// created it.
func (o *outFile) discard() {
	if o == nil || o.f == nil {
		return
	}
	o.f.Close()
	o.f = nil
	if o.created {
		os.Remove(o.name)
	}
}

// outputs are the report files of a run.
type outputs struct {
	json, html, hdr *outFile
}

// openOutputs opens the files asked for, refusing one path given twice.
func (b *benchCmd) openOutputs() (*outputs, error) {
	o := &outputs{}
	seen := map[string]string{}
	for _, x := range []struct {
		flag, name string
		dst        **outFile
	}{{"--json", b.jsonFile, &o.json}, {"--html", b.htmlFile, &o.html}, {"--hdr", b.hdrFile, &o.hdr}} {
		if x.name == "" || x.name == "-" && x.flag == "--json" {
			continue
		}
		abs, err := filepath.Abs(x.name)
		if err != nil {
			abs = x.name
		}
		if other, ok := seen[abs]; ok {
			o.discard()
			return nil, usagef("bench: %s and %s name the same file %s", other, x.flag, x.name)
		}
		seen[abs] = x.flag
		f, err := openOut(x.flag, x.name)
		if err != nil {
			o.discard()
			return nil, err
		}
		*x.dst = f
	}
	return o, nil
}

// discard closes the files not written, removing those the run created.
func (o *outputs) discard() {
	o.json.discard()
	o.html.discard()
	o.hdr.discard()
}

func (o *outputs) count() int {
	n := 0
	for _, f := range []*outFile{o.json, o.html, o.hdr} {
		if f != nil {
			n++
		}
	}
	return n
}

// maxLoopsPerCore bounds --loops: loops beyond the cores only take turns
// on them, and then measure the scheduler rather than the server.
const maxLoopsPerCore = 8

// checkLoops refuses a number of loops out of sense.
func checkLoops(loops int) error {
	limit := maxLoopsPerCore * runtime.NumCPU()
	if loops > limit {
		return usagef("bench: --loops %d is more than %d per core (this machine has %d): "+
			"loops beyond the cores take turns on them; at most %d (the default is one per core)",
			loops, maxLoopsPerCore, runtime.NumCPU(), limit)
	}
	return nil
}

// fdPlan is the estimate of the file descriptors a run needs.
type fdPlan struct {
	open     int // open now
	perConn  int // per connection: 1, or 2 with the embedded server's side
	fixed    int // loops, outputs and a margin
	limit    uint64
	hard     uint64
	limitSet bool // the limit is known
}

// fdMargin is the descriptors kept free beyond the estimate: DNS
// sockets, the reachability check, connections being replaced while the
// old one closes.
const fdMargin = 16

// planFDs estimates the descriptors of a run with loops engine loops (0:
// one per core), the embedded server in the process if embedded, and
// outs report files.
func planFDs(loops int, embedded bool, outs int) fdPlan {
	if loops <= 0 {
		loops = runtime.GOMAXPROCS(0)
	}
	p := fdPlan{open: openFDs(), perConn: 1}
	// Each loop holds a poller and a wake-up descriptor.
	p.fixed = 2*loops + outs + fdMargin
	if embedded {
		p.perConn = 2 // the server's end of each connection
		p.fixed += 2*runtime.GOMAXPROCS(0) + 1
	}
	p.limit, p.hard, p.limitSet = openFileLimit()
	return p
}

// need is the descriptors c connections take.
func (p fdPlan) need(c int) uint64 {
	return uint64(p.open) + uint64(p.fixed) + uint64(c*p.perConn) + uint64(c/64)
}

// allows is the most connections the limit leaves room for.
func (p fdPlan) allows() int {
	lo, hi := 0, 1<<30
	for lo < hi { // the largest c with need(c) <= limit
		mid := lo + (hi-lo+1)/2
		if p.need(mid) <= p.limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// checkFDs refuses -c when the open-file limit cannot hold its
// connections: they would fail one by one with "too many open files"
// halfway through the run.
func checkFDs(conns int, p fdPlan) error {
	if !p.limitSet || p.need(conns) <= p.limit {
		return nil
	}
	per := "one per connection"
	if p.perConn == 2 {
		per = "two per connection, with the embedded server's end"
	}
	raise := fmt.Sprintf("raise it with ulimit -n %d", p.need(conns))
	if p.hard < p.need(conns) {
		raise += fmt.Sprintf(" (above the hard limit, %d: that needs root)", p.hard)
	}
	return fmt.Errorf("bench: -c %d needs about %d open files (%s, %d for the event loops, report files and a margin, "+
		"%d open already), but the open-file limit is %d (ulimit -n): it allows -c %d at most; %s",
		conns, p.need(conns), per, p.fixed+conns/64, p.open, p.limit, p.allows(), raise)
}

// openFDs counts the process's open descriptors, where the system lists
// them; elsewhere it guesses the standard three and Go's poller.
func openFDs() int {
	for _, dir := range []string{"/proc/self/fd", "/dev/fd"} {
		f, err := os.Open(dir)
		if err != nil {
			continue
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err == nil && len(names) > 0 {
			n := 0
			for _, name := range names {
				if !strings.HasPrefix(name, ".") {
					n++
				}
			}
			return n // the directory's own descriptor is among them: one to spare
		}
	}
	return 8
}
