// Package resolver turns host names into addresses for the engine without
// blocking an event loop and without a goroutine per dial.
//
// The system resolver is a blocking call that can take seconds. An event
// loop that made it would stall every connection it owns (DESIGN rule 1),
// and a goroutine per dial would cost a million goroutines for a million
// dials. So a Resolver runs lookups on a small, bounded set of worker
// goroutines that exist only while there is work, and answers through a
// callback that the engine posts back to its loop.
//
// Three things keep the work small:
//
//   - IP literals and cached answers are returned at once, on the caller's
//     goroutine, before LookupAsync returns.
//   - Concurrent requests for the same (network, host) share one lookup:
//     a burst of ten thousand dials to one upstream costs one query.
//     Each caller keeps its own context; a caller that gives up is answered
//     at once, and the shared lookup is cancelled when nobody waits for it.
//   - Answers are cached for Config.TTL, and "no such host" answers for
//     Config.NegativeTTL, so a typo does not turn into a query storm.
//     Timeouts and other failures are never cached.
//
// An answer keeps IPv4 and IPv6 addresses in the order the system gave
// them; the engine tries each in turn. Answer slices are shared with the
// cache and must not be modified.
//
// Every failure is an *Error naming the host and wrapping its cause;
// errors.Is reports ErrNotFound, ErrTimeout, ErrClosed or the caller's
// context error.
package resolver
