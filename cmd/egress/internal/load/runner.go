package load

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/egress-go/egress"
	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/http2"
	"github.com/egress-go/egress/pool"
)

// errorBackoff is how long a slot waits after a failed request before the
// next one in the closed model, so that a dead server is not hammered in
// a tight loop of refused connections.
const errorBackoff = 10 * time.Millisecond

// abandonGrace bounds the wait, after in-flight requests were given up
// and the transport closed, for their callbacks to run.
const abandonGrace = 2 * time.Second

// minPace is the shortest sleep of the open model's pacer.
const minPace = 200 * time.Microsecond

// numShards spreads completions over this many locks.
const numShards = 8

// Run performs a load run and returns what it measured. It returns an
// error only for a Config it cannot run or a transport it cannot create;
// failed requests are counted in the Result. Cancelling ctx ends the run
// early, as the end of its duration would.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	targets := cfg.Targets
	if len(targets) == 0 {
		targets = []Target{{Method: cfg.Method, URL: cfg.URL, Header: cfg.Header, Body: cfg.Body}}
	}
	m, err := newMix(targets)
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(engine.Config{Loops: cfg.Loops})
	if err != nil {
		return nil, err
	}
	// An HTTP/2 connection carries many requests, so a pool of Connections
	// would carry every slot on the first connection it opened. When the
	// run may speak HTTP/2, each connection gets a transport of its own
	// (on the one engine) and slots are dealt to them in turn: the run has
	// the connections asked, each with its Streams slots, as h2load's -c
	// and -m mean.
	transports, perConn := 1, cfg.Connections
	if mayHTTP2(&cfg) {
		transports, perConn = cfg.Connections, 1
	}
	h2 := cfg.HTTP2
	// With several streams per connection, slots beyond what the open
	// connections' streams allow wait for a stream rather than take a
	// connection of their own: the run keeps the connections asked.
	h2.WaitForStreams = h2.WaitForStreams || cfg.Streams > 1
	r := &runner{cfg: cfg, eng: eng, mix: m, shards: newShards(numShards), drained: make(chan struct{})}
	switch {
	case len(cfg.RateStages) > 0:
		r.open, r.sched = true, rampRate(cfg.Rate, cfg.RateStages)
	case cfg.Rate > 0:
		r.open, r.sched = true, constantRate(cfg.Rate, cfg.Duration)
	case len(cfg.ConnStages) > 0:
		r.ramp = &connRamp{stages: cfg.ConnStages}
	}
	if mayHTTP2(&cfg) {
		r.streamPeak = make([]atomic.Int64, transports)
	}
	for range transports {
		pc := pool.DefaultConfig()
		pc.MaxTotalPerKey = perConn
		pc.MaxIdlePerKey = perConn
		tr, err := egress.NewTransport(egress.Options{
			Engine:                eng,
			Pool:                  &pc,
			TLSClientConfig:       cfg.TLS,
			DialTimeout:           cfg.Timeout,
			ResponseHeaderTimeout: cfg.Timeout,
			BodyIdleTimeout:       cfg.Timeout,
			DisableCompression:    true,
			HTTP2:                 h2,
		})
		if err != nil {
			r.closeTransports()
			eng.Close()
			return nil, err
		}
		r.trs = append(r.trs, tr)
	}
	res, err := r.run(ctx)
	r.closeTransports()
	eng.Close()
	return res, err
}

// mayHTTP2 reports whether the run may speak HTTP/2: h2c with prior
// knowledge, or https, where ALPN decides.
func mayHTTP2(cfg *Config) bool {
	if cfg.HTTP2.Disable {
		return false
	}
	return cfg.HTTP2.PriorKnowledge || len(cfg.URL) >= 6 && strings.EqualFold(cfg.URL[:6], "https:")
}

func (r *runner) closeTransports() {
	for _, tr := range r.trs {
		tr.Close()
	}
}

// Slot states: the protocol between a slot's sender and its completion
// callback, which may run inside Send (on the sender's goroutine) or on
// a loop while Send is still returning.
const (
	slotIdle int32 = iota
	slotSending
	slotInFlight
	slotDoneInSend // completed before Send returned: the sender goes on
)

type runner struct {
	cfg Config
	trs []*egress.Transport // one, or one per connection (see Run)
	// streamPeak holds, per transport of a run that may speak HTTP/2 (so
	// per connection), the most streams seen in use at once.
	streamPeak []atomic.Int64
	eng        *engine.Engine
	mix        *mix
	open       bool // the open model: requests due by a rate schedule
	// ramp, in a closed model with ConnStages, sets active: the slots
	// that may send (the first active ones), the others parked.
	ramp   *connRamp
	active atomic.Int64
	base   time.Time
	shards []*shard
	slots  []*slot

	stopping   atomic.Bool
	abandoned  atomic.Bool
	inflight   atomic.Int64
	issued     atomic.Int64
	incomplete atomic.Int64
	lastDone   atomic.Int64 // since base, ns
	serverEnd  atomic.Int64 // responses with Connection: close
	h1, h2     atomic.Int64 // responses by protocol
	drained    chan struct{}
	drainOnce  sync.Once

	// Open model.
	mu     sync.Mutex
	free   []*slot
	next   int64         // index of the next request to send
	due    int64         // requests due so far
	total  int64         // requests due over the whole run
	sched  *rateSchedule // the asked rate over time, from base
	sent   atomic.Int64
	maxLag atomic.Int64
}

func (r *runner) now() int64 { return int64(time.Since(r.base)) }

// take reserves a request and returns its number in the run (0, 1,
// ...); false means the run is over. The in-flight count goes up before
// the stop flag is read, so that whoever sees it reach zero after the
// stop knows nothing more will be sent.
func (r *runner) take() (uint64, bool) {
	r.inflight.Add(1)
	if !r.stopping.Load() {
		n := r.issued.Add(1)
		if r.cfg.Requests <= 0 || n <= r.cfg.Requests {
			if n == r.cfg.Requests {
				// The last one: the run ends when it completes. The
				// open model's pacer would not ask again.
				r.stopping.Store(true)
			}
			return uint64(n - 1), true
		}
		r.stopping.Store(true)
	}
	r.release()
	return 0, false
}

func (r *runner) release() {
	if r.inflight.Add(-1) == 0 && r.stopping.Load() {
		r.drainOnce.Do(func() { close(r.drained) })
	}
}

func (r *runner) stop() {
	r.stopping.Store(true)
	if r.inflight.Load() == 0 {
		r.drainOnce.Do(func() { close(r.drained) })
	}
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	cfg := &r.cfg
	r.slots = make([]*slot, cfg.Connections*cfg.Streams)
	seed := uint64(time.Now().UnixNano())
	for i := range r.slots {
		tr := r.trs[i%len(r.trs)]
		if len(cfg.ConnStages) > 0 && len(r.trs) > 1 {
			// A ramp of connections makes slots active from the first:
			// each connection's streams are neighbours, so that n
			// connections' slots are on n connections.
			tr = r.trs[i/cfg.Streams]
		}
		s := &slot{r: r, tr: tr, idx: i, sh: r.shards[i%len(r.shards)]}
		s.ex = egress.Exchange{OnHead: s.onHead, OnBody: s.onBody, OnDone: s.onDone}
		if t := r.mix.targets[0]; r.mix.static {
			s.ex.Method, s.ex.URL, s.ex.Header, s.ex.Body = t.method, t.rawURL, t.header, t.rawBdy
		}
		s.req.rng = rand.New(rand.NewPCG(seed, uint64(i)))
		r.slots[i] = s
	}
	total := NewHistogram()
	smp := newSampler(r, total)
	r.base = time.Now()
	start := r.base
	smp.start()

	var pacerDone chan struct{}
	if r.open {
		r.total = int64(r.sched.total)
		if cfg.Requests > 0 {
			r.total = min(r.total, cfg.Requests)
		}
		r.free = append(r.free, r.slots...)
		pacerDone = make(chan struct{})
		go r.pace(ctx, pacerDone)
	} else {
		if r.ramp != nil {
			r.active.Store(int64(r.ramp.at(0) * cfg.Streams))
		}
		for _, s := range r.slots {
			s.fireClosed()
		}
	}

	var deadline <-chan time.Time
	if cfg.Duration > 0 {
		tm := time.NewTimer(cfg.Duration)
		defer tm.Stop()
		deadline = tm.C
	}
	select {
	case <-deadline:
	case <-r.drained:
	case <-ctx.Done():
	}
	// The run lasts until it stops sending (its deadline, its last
	// request, an interruption), even when its last completion came
	// earlier: an open-model schedule's last request is due before the
	// end, a ramp may end at 0, and the rates are over the whole run.
	stopAt := r.now()
	r.stop()
	if pacerDone != nil {
		<-pacerDone
	}
	// Requests still in flight get the timeout to finish; then they are
	// given up and counted as incomplete, not as errors.
	grace := time.NewTimer(cfg.Timeout)
	select {
	case <-r.drained:
	case <-grace.C:
	}
	grace.Stop()
	res := &Result{Start: start}
	r.collect(res) // before any forced close skews the pool's counters
	select {
	case <-r.drained:
	default:
		r.abandoned.Store(true)
		r.closeTransports()
		select {
		case <-r.drained:
		case <-time.After(abandonGrace):
		}
	}
	runEnd := time.Duration(max(r.lastDone.Load(), stopAt))
	smp.finish(runEnd)

	res.Latency = total
	res.Timeline = smp.timeline
	res.Elapsed = runEnd
	if res.Elapsed <= 0 {
		res.Elapsed = time.Since(start)
	}
	c := sumCounts(r.shards)
	res.Requests, res.Failed, res.BodyBytes = c.completed, c.failed, c.bodyBytes
	res.Incomplete = r.incomplete.Load()
	res.Status, res.Errors = map[int]int64{}, map[string]int64{}
	for _, s := range r.shards {
		s.mu.Lock()
		for code, n := range s.status {
			if n > 0 {
				res.Status[code] += n
			}
		}
		for k, n := range s.errs {
			res.Errors[k] += n
		}
		s.mu.Unlock()
	}
	res.Conns.ClosedInUse = res.Errors[ErrClassClosed]
	res.Conns.Resets = res.Errors[ErrClassReset]
	res.Conns.Peak = max(res.Conns.Peak, smp.peak.Load())
	res.HTTP1, res.HTTP2 = r.h1.Load(), r.h2.Load()
	if len(cfg.Targets) > 0 {
		res.Targets = r.mix.counts()
	}
	res.Conns.ResetCodes, res.Conns.GoAwayFailures = pushbackCodes(res.Errors, res.Conns.StreamResets)
	if r.open {
		res.Rate = RateStats{
			Asked: r.sched.total / r.sched.end().Seconds(), Due: r.due, Sent: r.sent.Load(),
			MaxLag: time.Duration(r.maxLag.Load()),
		}
		if d := cfg.Duration.Seconds(); d > 0 {
			res.Rate.Achieved = float64(res.Rate.Sent) / min(d, res.Elapsed.Seconds())
		}
	}
	return res, nil
}

// collect reads the transport's and engine's counters into res.
func (r *runner) collect(res *Result) {
	var ts egress.Stats
	for _, tr := range r.trs {
		st := tr.Stats()
		ts.Retries += st.Retries
		ts.Unprocessed += st.Unprocessed
		ts.GoAways += st.GoAways
		ts.StreamResets += st.StreamResets
		p, q := &ts.Pool, &st.Pool
		p.Dials += q.Dials
		p.DialFailures += q.DialFailures
		// A request after an HTTP/2 connection's first is a stream of
		// it (Streams), not a checkout of an idle connection (Reuses):
		// both are requests on a connection used before.
		p.Reuses += q.Reuses + q.Streams
		p.PeerClosedIdle += q.PeerClosedIdle
		p.Expired += q.Expired
		p.Discarded += q.Discarded
		p.Waits += q.Waits
	}
	es := r.eng.Stats()
	res.BytesIn, res.BytesOut = es.BytesIn, es.BytesOut
	res.Conns = ConnStats{
		Asked:          r.cfg.Connections,
		Streams:        r.cfg.Streams,
		Peak:           es.Open,
		Dials:          ts.Pool.Dials,
		DialFailures:   ts.Pool.DialFailures,
		Reuses:         ts.Pool.Reuses,
		ServerClose:    r.serverEnd.Load(),
		PeerClosedIdle: ts.Pool.PeerClosedIdle,
		Retries:        ts.Retries,
		Unprocessed:    ts.Unprocessed,
		GoAways:        ts.GoAways,
		StreamResets:   ts.StreamResets,
		Expired:        ts.Pool.Expired,
		Discarded:      ts.Pool.Discarded,
		Waits:          ts.Pool.Waits,
	}
	r.collectStreams(&res.Conns)
}

// settingsWait bounds the wait for the loops to report the servers'
// SETTINGS at the end of a run.
const settingsWait = 2 * time.Second

// collectStreams fills the HTTP/2 streams achieved: each connection's
// sampled peak, capped at its server's MAX_CONCURRENT_STREAMS (see
// ConnStats.StreamsPeak).
func (r *runner) collectStreams(c *ConnStats) {
	if len(r.streamPeak) == 0 {
		return
	}
	r.sampleStreams(0, len(r.streamPeak))
	ctx, cancel := context.WithTimeout(context.Background(), settingsWait)
	defer cancel()
	var sum int64
	for i, tr := range r.trs {
		peak, limit := capStreams(r.streamPeak[i].Load(), tr.HTTP2Settings(ctx))
		if limit > 0 && (c.ServerMaxStreams == 0 || limit < c.ServerMaxStreams) {
			c.ServerMaxStreams = limit
		}
		c.StreamsPeak = max(c.StreamsPeak, peak)
		sum += peak
	}
	c.StreamsPeakMean = float64(sum) / float64(len(r.trs))
}

// capStreams caps a connection's sampled peak of streams at the lowest
// MAX_CONCURRENT_STREAMS its server set (returned; 0 when none set a
// limit): streams opened above it before the server's SETTINGS arrived
// were refused, not carried.
func capStreams(peak int64, settings []http2.PeerSettings) (capped, limit int64) {
	for _, st := range settings {
		if st.MaxConcurrentStreams == math.MaxUint32 {
			continue // no limit sent
		}
		if l := int64(st.MaxConcurrentStreams); limit == 0 || l < limit {
			limit = l
		}
	}
	if limit > 0 {
		peak = min(peak, limit)
	}
	return peak, limit
}

// streamsPerSample bounds the connections whose streams one sample of
// the sampler reads, so that a run of thousands of connections does not
// spend its sampler on the pools' locks: above it, samples take turns
// over the connections.
const streamsPerSample = 256

// sampleStreams records the streams in use on n connections from the
// from-th (wrapping around), for their peaks, and returns where the next
// sample starts. The sampler's goroutine and collect both call it.
func (r *runner) sampleStreams(from, n int) int {
	all := len(r.streamPeak)
	if all == 0 {
		return 0
	}
	for k := range min(n, all) {
		i := (from + k) % all
		used := int64(r.trs[i].Pool().Stats().StreamsInUse)
		for p := &r.streamPeak[i]; ; {
			old := p.Load()
			if used <= old || p.CompareAndSwap(old, used) {
				break
			}
		}
	}
	return (from + n) % all
}

// pushbackCodes names the codes of the server's RST_STREAMs and of the
// GOAWAYs that failed requests, from the error classes of the failed
// requests (see ConnStats.ResetCodes): resets counts every stream the
// server reset, so those whose request did not fail were REFUSED_STREAM,
// replayed.
func pushbackCodes(errs map[string]int64, resets int64) (rst, goaway map[string]int64) {
	var failed int64
	for class, n := range errs {
		switch {
		case strings.HasPrefix(class, ErrClassRSTStream):
			if rst == nil {
				rst = map[string]int64{}
			}
			rst[class[len(ErrClassRSTStream):]] += n
			failed += n
		case strings.HasPrefix(class, ErrClassGoAway):
			if goaway == nil {
				goaway = map[string]int64{}
			}
			goaway[class[len(ErrClassGoAway):]] += n
		}
	}
	if retried := resets - failed; retried > 0 {
		if rst == nil {
			rst = map[string]int64{}
		}
		rst[http2.ErrCodeRefusedStream.String()] += retried
	}
	return rst, goaway
}

// pace runs the open model's clock: request i is due at the time the
// schedule's requests due reach i (i/rate at a constant rate), and
// is sent as soon as it is due and a slot is free. A slot that frees up
// while requests are overdue takes the oldest at once (see slot.onDone).
func (r *runner) pace(ctx context.Context, done chan struct{}) {
	defer close(done)
	for !r.stopping.Load() && ctx.Err() == nil {
		now := r.now()
		due := min(int64(r.sched.dueBy(time.Duration(now)))+1, r.total)
		r.mu.Lock()
		r.due = max(r.due, due)
		r.mu.Unlock()
		r.dispatch()
		if due >= r.total {
			return // everything is due; the backlog drains until the deadline
		}
		wait := r.cfg.Tick
		if at, ok := r.sched.dueAt(due); ok {
			wait = at - time.Duration(r.now())
		}
		time.Sleep(min(max(wait, 0), r.cfg.Tick))
	}
}

// dispatch sends due requests on free slots.
func (r *runner) dispatch() {
	for {
		r.mu.Lock()
		if r.stopping.Load() || r.next >= r.due || len(r.free) == 0 {
			r.mu.Unlock()
			return
		}
		s := r.free[len(r.free)-1]
		r.free = r.free[:len(r.free)-1]
		idx := r.next
		r.next++
		r.mu.Unlock()
		at, _ := r.sched.dueAt(idx)
		s.fireOpen(int64(at))
	}
}

func (r *runner) pushFree(s *slot) {
	r.mu.Lock()
	r.free = append(r.free, s)
	r.mu.Unlock()
}

// slot is one request stream: one Exchange, reused for every request.
type slot struct {
	r     *runner
	tr    *egress.Transport // the transport of its connection
	idx   int
	sh    *shard
	ex    egress.Exchange
	req   reqState // buffers of the request's URL, fields and body
	state atomic.Int32
	// parked is set while a ramp of connections does not ask for the
	// slot (see runner.ramp).
	parked atomic.Bool
	sent   int64 // since base: when the request was sent (closed) or due (open)
	body   int64 // body bytes of the current response
	err    error // the last completion's error
}

// fireClosed sends requests back to back until one is in flight, the run
// is over, or one failed (then it backs off).
func (s *slot) fireClosed() {
	r := s.r
	for {
		if r.ramp != nil && int64(s.idx) >= r.active.Load() {
			// Not asked for now: park until the ramp wakes the slot. If
			// the ramp grew between the check and the parking, the slot
			// unparks itself, or the ramp's next tick does.
			s.parked.Store(true)
			if int64(s.idx) >= r.active.Load() || !s.parked.CompareAndSwap(true, false) {
				return
			}
		}
		seq, ok := r.take()
		if !ok {
			return
		}
		r.mix.prepare(&s.ex, &s.req, seq)
		s.sent, s.body = r.now(), 0
		s.state.Store(slotSending)
		if err := s.tr.Send(&s.ex); err != nil {
			s.state.Store(slotIdle)
			s.finish(err)
			if !errors.Is(err, egress.ErrTransportClosed) {
				s.backoff()
			}
			return
		}
		if s.state.CompareAndSwap(slotSending, slotInFlight) {
			return // onDone carries on
		}
		s.state.Store(slotIdle)
		if s.err != nil {
			s.backoff()
			return
		}
	}
}

func (s *slot) backoff() {
	r := s.r
	r.eng.Loop(s.idx%r.eng.NumLoops()).AfterFunc(errorBackoff, s.fireClosed)
}

// fireOpen sends the request that was due at intended.
func (s *slot) fireOpen(intended int64) {
	r := s.r
	seq, ok := r.take()
	if !ok {
		r.pushFree(s)
		return
	}
	r.mix.prepare(&s.ex, &s.req, seq)
	lag := r.now() - intended
	for {
		m := r.maxLag.Load()
		if lag <= m || r.maxLag.CompareAndSwap(m, lag) {
			break
		}
	}
	r.sent.Add(1)
	s.sent, s.body = intended, 0
	s.state.Store(slotSending)
	if err := s.tr.Send(&s.ex); err != nil {
		s.state.Store(slotIdle)
		s.finish(err)
		r.pushFree(s)
		return
	}
	if s.state.CompareAndSwap(slotSending, slotInFlight) {
		return
	}
	s.state.Store(slotIdle)
	r.pushFree(s) // dispatch, our caller, goes on with the next
}

func (s *slot) onHead(ex *egress.Exchange) {
	if ex.ProtoMajor() == 2 {
		s.r.h2.Add(1)
	} else {
		s.r.h1.Add(1)
	}
	if v := ex.HeaderValue("Connection"); v != nil && hasCloseToken(v) {
		s.r.serverEnd.Add(1)
	}
}

func (s *slot) onBody(ex *egress.Exchange, p []byte) { s.body += int64(len(p)) }

func (s *slot) onDone(ex *egress.Exchange, err error) {
	s.finish(err)
	if s.state.CompareAndSwap(slotSending, slotDoneInSend) {
		return // the sender, still in Send, goes on
	}
	s.state.Store(slotIdle)
	r := s.r
	if r.open {
		r.pushFree(s)
		r.dispatch()
		return
	}
	if err != nil {
		s.backoff()
		return
	}
	s.fireClosed()
}

// finish records a completed request and releases its reservation.
func (s *slot) finish(err error) {
	r := s.r
	s.err = err
	if r.abandoned.Load() {
		r.incomplete.Add(1)
		r.release()
		return
	}
	now := r.now()
	class := ""
	if err != nil {
		class = Classify(err)
	}
	s.sh.record(now-s.sent, s.ex.StatusCode(), class, s.body)
	for {
		last := r.lastDone.Load()
		if now <= last || r.lastDone.CompareAndSwap(last, now) {
			break
		}
	}
	r.release()
}

func hasCloseToken(v []byte) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		if i < 0 {
			i = len(v)
		}
		if bytes.EqualFold(bytes.TrimSpace(v[:i]), []byte("close")) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}

// rampTick sets the slots a ramp of connections asks for at now, and
// wakes those parked among them. The sampler calls it.
func (r *runner) rampTick(now time.Duration) {
	n := min(int64(r.ramp.at(now)*r.cfg.Streams), int64(len(r.slots)))
	r.active.Store(n)
	if r.stopping.Load() {
		return
	}
	for _, s := range r.slots[:n] {
		if s.parked.CompareAndSwap(true, false) {
			s.fireClosed()
		}
	}
}
