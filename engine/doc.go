// Package engine drives many non-blocking client (and server) sockets from
// a few event loops.
//
// An Engine owns N loops (GOMAXPROCS by default). Each loop is one goroutine
// that waits for readiness (epoll on Linux, kqueue on macOS and the BSDs),
// reads into a single per-loop buffer, and calls the connection's Handler.
// Every callback of a connection runs on its loop's goroutine, one at a
// time, so a handler needs no locking for its own state.
//
// Because reads land in the loop's buffer and writes are queued in pooled
// chunks that go back to the pool once flushed, a connection that sits idle
// holds no goroutine and no buffer: just its Conn value and a file
// descriptor. That is what lets one process keep hundreds of thousands of
// client connections open.
//
// Dialing is asynchronous from end to end: the name is resolved by the
// resolver package (cached, merged, on a bounded set of workers), the
// connect is non-blocking, and the result arrives as OnOpen or, on failure,
// as OnClose with a *DialError. No goroutine is spent per dial.
//
// On platforms without epoll or kqueue, and on any platform when
// Config.Backend is BackendNet, the engine runs on Go's net package instead
// (a goroutine per connection) behind the same API, so a program written
// against the engine builds and behaves the same everywhere.
//
// Rules for handlers:
//
//   - Never block in a callback: the loop serves every other connection.
//   - The slice passed to OnData is valid only during the call; copy what
//     must outlive it.
//   - Write, Close, CloseWrite, PauseRead, ResumeRead and SetIdleTimeout may
//     be called from any goroutine; they never block.
package engine
