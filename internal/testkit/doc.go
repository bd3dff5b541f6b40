// Package testkit is the test helpers that every package of the module
// shares, written once so that each test states only what it checks. It
// imports no egress package, so any package can use it from its own
// tests, engine's internal tests included; where a helper speaks an
// egress type, it takes it as a type parameter (Recorder).
//
// The parts:
//
//   - Leak checks (leak.go): CheckLeaks fails a test that leaves
//     goroutines, sockets or pollers (epoll, eventfd) behind, after a
//     bounded wait, naming each leaked descriptor and printing each leaked
//     goroutine's stack; TakeSnapshot and Snapshot.Check do the same part
//     way through a test. Descriptors counts the sockets and pollers open.
//     DESIGN says every test that opens a connection checks for leaks.
//   - Byte splitting (split.go): Whole, Bytewise, SplitAt, Chunks (for
//     fuzz targets), WithEmptyReads and Splits, which yields every cut a
//     decoder fed by an event loop must treat alike: byte by byte, at
//     every offset, at every pair of offsets, at random offsets from a
//     seed.
//   - A recording handler (recorder.go): Recorder[C] records a
//     connection's open, data and close, and waits for each (WaitOpen,
//     WaitData, WaitClose); *Recorder[*engine.Conn] is an engine.Handler.
//     WaitFor polls a condition with a generous bound.
//   - A fake TCP server (server.go): NewServer runs a handler per
//     connection on loopback, counts connections, and at Close (or the
//     test's end) closes the listener and every live connection and waits
//     for its handlers. Echo is the usual handler; ClosedAddr is an
//     address where nothing listens.
//   - Allocation counts (alloc.go): AllocsPerOp measures allocations per
//     operation over batches, so that a fraction of one shows.
//   - Real peer servers (peer.go): RequirePeer finds a server such as
//     nginx or redis-server, and fails the test in CI where a developer's
//     run skips it.
//
// Waits are bounded and generous (seconds), and end on the event, not on
// the clock: the suite runs under -race on busy 2-core machines.
package testkit
