// Package frame splits a byte stream into frames for binary and text
// protocols that run on the egress engine, and builds frames to send.
//
// Two framings are provided: lines ended by a delimiter ([LineDecoder],
// [AppendLine]) and payloads preceded by a fixed-size length
// ([LengthDecoder], [AppendLengthPrefixed]).
//
// # Feeding a decoder
//
// The engine hands a connection's bytes to a data callback in a slice that
// is valid only during that callback, and it may cut the stream at any byte.
// A decoder is fed each such slice with Feed and calls emit once for every
// frame that completes:
//
//	func (c *client) onData(data []byte) error {
//		return c.dec.Feed(data, c.onFrame) // c.onFrame stored once: no allocation
//	}
//
// A frame that lies whole inside data is passed to emit as a sub-slice of
// data: no copy is made. Only the incomplete tail at the end of data is
// copied, into a buffer from the internal pool, and that buffer goes back to
// the pool as soon as its frame completes. A connection between frames
// therefore holds no buffer at all, which is what lets a process keep many
// idle connections cheaply.
//
// The frame slice given to emit is valid only until emit returns; emit must
// copy whatever it keeps. Feed must not be called again from inside emit.
//
// # Errors
//
// A frame longer than the configured maximum fails with a
// *[FrameTooLargeError] (errors.Is(err, [ErrFrameTooLarge])), reported as
// soon as the excess is certain rather than after buffering the whole frame.
// A decoder that has failed, whether from bad input or from an error
// returned by emit, refuses all further input and returns the same error
// from every Feed until Reset is called: the stream is no longer in sync, so
// the connection should be closed.
//
// Decoders are not safe for concurrent use; an engine connection feeds its
// decoder from a single event loop.
package frame
