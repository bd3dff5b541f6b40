package resolver

// Stats is a snapshot of a Resolver's counters. Counters are totals since
// New; Entries, Pending and Workers are the state at the time of the call.
type Stats struct {
	Lookups  uint64 // calls made to Config.Lookup
	Hits     uint64 // callers answered from the cache, "not found" included
	Literals uint64 // callers whose host was an IP literal
	Merged   uint64 // callers that joined a lookup already queued or running

	Errors ErrorCounts // callers answered with an error, by kind

	Entries int // cache entries, expired ones not yet dropped included
	Pending int // lookups queued or running that callers wait for
	Workers int // worker goroutines running
}

// ErrorCounts counts the errors delivered to callers, by kind. A lookup
// that fails for N merged callers counts N times.
type ErrorCounts struct {
	NotFound uint64 // errors.Is(err, ErrNotFound), cached ones included
	Timeout  uint64 // errors.Is(err, ErrTimeout)
	Canceled uint64 // the caller's ctx was cancelled
	Closed   uint64 // errors.Is(err, ErrClosed)
	Other    uint64 // bad input, server failure, anything else
}

// Stats returns the current counters.
func (r *Resolver) Stats() Stats {
	r.mu.Lock()
	s := Stats{
		Entries: r.cache.len(),
		Pending: len(r.flights),
		Workers: r.workers,
	}
	r.mu.Unlock()
	s.Lookups = r.nLookups.Load()
	s.Hits = r.nHits.Load()
	s.Literals = r.nLiterals.Load()
	s.Merged = r.nMerged.Load()
	s.Errors = ErrorCounts{
		NotFound: r.nErrs[kindNotFound].Load(),
		Timeout:  r.nErrs[kindTimeout].Load(),
		Canceled: r.nErrs[kindCanceled].Load(),
		Closed:   r.nErrs[kindClosed].Load(),
		Other:    r.nErrs[kindOther].Load(),
	}
	return s
}
