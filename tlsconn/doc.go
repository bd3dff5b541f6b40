// Package tlsconn puts TLS under engine connections with Go's crypto/tls,
// unmodified, while the socket stays in event mode: the handler keeps the
// engine's callback API (OnOpen, OnData, OnWritten, OnClose) and simply
// sees plaintext.
//
//	client, err := tlsconn.NewClient(&tlsconn.Config{NextProtos: []string{"h2", "http/1.1"}})
//	...
//	conn, err := client.Dial(ctx, eng, "tcp", "example.com:443", handler, nil)
//
// This is rule 4 of the design ("stock crypto/tls, verification on"),
// and the rest of this comment is how the package keeps it.
//
// # After the handshake: records decrypted as bytes arrive
//
// A tls.Conn reads from a net.Conn. Here that net.Conn is an adapter over
// the bytes of the current engine read: when they run out it returns a
// net.Error whose Temporary method reports true, never (0, nil).
// crypto/tls treats such an error as not final (conn.go,
// readRecordOrCCS): the incomplete record stays in its buffer and the next
// Read resumes it. So on every read the loop feeds the new bytes in and
// calls tls.Conn.Read until the adapter runs dry, and the plaintext goes
// to OnData in one call. No goroutine is involved and nothing blocks.
//
// Writes go the other way: tls.Conn.Write seals records into the adapter,
// which copies them into the connection's write queue and never fails,
// because crypto/tls cannot recover from a failed write. The write-queue
// limit is checked before encrypting instead (ErrWriteQueueFull).
//
// # The handshake: on short-lived goroutines
//
// A handshake is straight-line code inside crypto/tls that reads, writes
// and reads again, and it cannot be resumed after a read error. So it runs
// on a goroutine over a blocking adapter: the loop copies each read into
// it and the goroutine, parked until then, carries on. Goroutines come
// from a bounded pool (SetMaxHandshakes; separate pools for client and
// server connections), are started on demand and exit when no handshake
// is waiting. When the handshake ends, the result is posted to the loop,
// the connection returns to event mode, OnOpen runs, and no goroutine is
// left: an idle TLS connection holds its tls.Conn and no buffer or
// goroutine of its own. Bytes that arrived with the end of the handshake
// (application data, TLS 1.3 session tickets) are decrypted right away,
// and then the buffers crypto/tls grew for the handshake's largest
// messages are released (see trim.go), which halves what an idle
// connection costs.
//
// The handshake timeout (Config.HandshakeTimeout, default 10 s) counts
// from the moment TCP is connected and includes any wait for a free
// worker. Writes made before the handshake finishes are held, within the
// write-queue limit, and sent right after it, before anything written by
// OnOpen.
//
// # Safe defaults
//
// Certificates and host names are verified (system roots unless
// Config.RootCAsPEM or RootCAFile is given); the dial host is sent as SNI
// and verified (an IP address is verified against the certificate's IP
// addresses); TLS 1.2 is the minimum; sessions are resumed through a cache
// shared by the Client's connections. InsecureSkipVerify is honored only
// when set.
//
// # Errors and close reasons
//
// Everything happens on the connection's loop, and results arrive in the
// handler's callbacks:
//
//   - a failed handshake closes the connection with a *HandshakeError,
//     whose Err is ErrHandshakeTimeout, a *VerifyError (with a
//     VerifyReason: unknown authority, host name, expired, ...), an
//     *AlertError (the peer refused us, with the alert), ErrALPNMismatch,
//     or engine.ErrPeerClosed (the peer hung up mid-handshake);
//   - the peer's close_notify closes it with ErrCloseNotify, which also
//     matches engine.ErrPeerClosed; our close_notify is sent in reply;
//   - a TCP close without close_notify closes it with ErrTruncated;
//   - a fatal alert or a record that fails to decrypt closes it with an
//     *AlertError;
//   - Conn.Close sends close_notify before the TCP close.
//
// While the handshake runs, the connection's handler is wrapped by a
// stand-in that reports a close during it as a *HandshakeError, so
// Conn.Handler returns the stand-in until OnOpen; a SetHandler before
// OnOpen loses only that wrapping: the engine tells the layer itself of
// the close (engine.LayerCloser), which frees the worker at once.
//
// OnWritten counts bytes handed to the kernel, which after the handshake
// are ciphertext: records are somewhat larger than what was written.
//
// Configuration problems (unreadable file, no PEM data, an encrypted key
// without its password, a wrong password) are reported by NewClient as a
// *ConfigError wrapping ErrNoPEM, ErrKeyEncrypted or ErrKeyPassword.
//
// State and NegotiatedProtocol report the negotiated session; Client's
// TLSConfig gives the one *tls.Config that identifies a Client, for
// connection pools that key connections by it.
package tlsconn
