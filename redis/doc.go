// Package redis is a Redis client on the egress engine: commands from any
// number of goroutines are multiplexed on a few connections driven by
// event loops, with a blocking API and a non-blocking one (a callback per
// reply) over the same machinery.
//
//	c, err := redis.NewClient(redis.Options{Addr: "127.0.0.1:6379"})
//	// or redis.NewClientURL("rediss://user:secret@cache.internal:6380/2")
//	...
//	defer c.Close()
//	err = c.Set(ctx, "greeting", "hello", time.Minute)
//	s, err := c.Get(ctx, "greeting")
//
// # Connections
//
// Every connection comes from the client's connection pool (package pool)
// and is ready when handed over: TLS done for rediss://, then HELLO 3 with
// AUTH and SETNAME (or, when the server predates RESP3 or Options.Protocol
// is 2, AUTH and CLIENT SETNAME in RESP2), and SELECT. The client keeps
// Options.Conns of them (default 1) checked out for its whole life as its
// shared connections.
//
// # Auto-pipelining
//
// Do, DoAsync and the typed commands encode the command, on the caller's
// goroutine, into the shared connection's buffer and append the command's
// reply slot to a queue. The connection's loop takes the whole buffer at
// once and writes it with one write: every command queued meanwhile, from
// any goroutine, goes out together. Replies come back in order, and the
// loop matches each to the oldest slot (FIFO). Nothing else is needed for
// ordering: with one shared connection, commands are executed in the order
// their Do or DoAsync calls took the buffer's lock; with several, that
// holds per connection.
//
// Pipeline and TxPipeline send a group of commands with nothing from other
// callers between them, so MULTI/EXEC runs on the shared connections too.
// Commands that change the state of their connection (SELECT, WATCH,
// MULTI, CLIENT REPLY...) are refused there with ErrStateful: they belong
// on a dedicated Conn (Client.Conn), which is still pipelined but private.
//
// Blocking commands (BLPOP, BRPOP, BLMOVE, BZPOPMIN, XREAD BLOCK...)
// would hold up every command behind them, so each call runs on a
// connection of its own, checked out of the pool (idle ones are reused)
// and given back when the reply has come. Pub/sub has dedicated
// connections too (Client.Subscribe, NewPubSub). WAIT and WAITAOF are the
// exception: they wait for the writes of their own connection, so they
// run on the shared connection that carried the writes (with Conns 1, all
// of the client's), and hold it up to their timeout.
//
// # Where callbacks run
//
// DoAsync's callback runs on the engine loop of the connection, as do
// NewPubSub's message handler and ExecAsync's callback, and like every
// engine callback they must not block (they may send more commands). The
// reply given to a callback is valid only during the call: convert it
// with the As functions or keep a copy with resp.Value.Clone. When the
// callback is created once and the context cannot end, DoAsync allocates
// nothing per command in steady state. The blocking API is built on the
// same path with a pooled waiter.
//
// # Contexts
//
// A command whose context ends fails at once with the context's error.
// Its reply, when it comes, is read and discarded, so the connection stays
// in step. A command whose context ends before it was written may still
// be sent (it sits in a buffer shared with other commands); a blocking
// command's dedicated connection is closed instead, so that the server
// stops blocking on it.
//
// # Errors
//
// A server error reply is returned as a *resp.Error carrying the server's
// message (errors.As, then Prefix for the code: "WRONGTYPE", "NOAUTH",
// ...). A missing value (GET of a missing key, BLPOP that timed out) is
// ErrNil. A command that fails because of its connection gets a
// *ConnError: its Sent field says whether the command had been handed to
// the connection, that is whether it may have executed, and Err is the
// cause (the engine's close reason, such as engine.ErrReset or
// engine.ErrPeerClosed, a dial error, a refused AUTH...).
//
// # Reconnection
//
// When a shared connection drops, only the commands in flight on it fail,
// each with a *ConnError whose Sent is true. Commands that were still in
// the buffer (never handed to the socket) are kept and sent on the next
// connection, which is dialed at once. If that dial fails, the commands
// waiting for it fail (Sent false), and the client redials with
// exponential back-off (Options.MinRetryBackoff doubling up to
// MaxRetryBackoff, jittered); while it waits, commands fail at once with
// the last dial error rather than pile up. Commands are never resent after
// they were handed to a connection: the client cannot know whether they
// ran. A PubSub reconnects too, with the same back-off, and subscribes
// again to what it had; messages published meanwhile are lost, and a
// "reconnected" Message marks the gap (see PubSub). A Conn does not
// reconnect: its state (WATCH, SELECT, ...) would be lost with it.
//
// A server can also go silent without closing the connection: a stopped
// process, a paused VM, a network that drops packets without a reset.
// A shared connection on which a reply is due and nothing has arrived for
// Options.ReadTimeout (default 10 s) is presumed dead and closed: its
// commands in flight fail with a *ConnError wrapping ErrReadTimeout (a
// timeout), and it is replaced as above. A blocking command or a WAIT
// extends the bound by its own timeout while it waits. A Conn is watched
// the same way but not replaced. A PubSub pings a connection that has
// been quiet for ReadTimeout and reconnects if the PING brings nothing
// back either.
//
// # Redis Cluster
//
// ClusterClient has the same command API for a Redis Cluster:
//
//	c, err := redis.NewClusterClient(redis.ClusterOptions{
//		Addrs: []string{"10.0.0.1:6379", "10.0.0.2:6379"}, // any nodes: seeds
//	})
//	// or redis.NewClusterClientURL("redis://10.0.0.1:6379?addr=10.0.0.2:6379")
//
// Each command goes to the master of its key's hash slot (CRC16 of the
// key, or of the part in {braces}: a hash tag keeps related keys in one
// slot), on that node's shared auto-pipelined connections; every node's
// connections run on one engine. A command whose keys are in different
// slots fails before it is sent, with a *CrossSlotError. MOVED and ASK
// redirections are followed, TRYAGAIN, CLUSTERDOWN and an unreachable
// node are retried with back-off within the command's deadline, and the
// slot map is read again after any of them, merged into one read. A
// Pipeline is split by node and its replies come back in order; a
// TxPipeline must stay in one slot. ClusterClient.SSubscribe subscribes
// to shard channels and follows their slots. Errors that come from the
// cluster rather than the command are *ClusterError values naming the
// node, the slot and what happened. The nodes the client makes
// connections to, whether a map or a redirection names them, are bounded
// by ClusterOptions.MaxNodes (default 4096), so that a broken or hostile
// node cannot make it hold connections to ever more addresses.
package redis
