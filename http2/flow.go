package http2

import "time"

// recvFlow is one receive window, of a stream or of the connection. Three
// amounts always add up to its size (target): what the server may still
// send (win), what it sent that the application holds unread, and what
// the application read or discarded that we have not yet returned
// (unacked). Credit returns only when the application is done with bytes,
// so a reader that stops reading stops the server after one window, and
// the memory its stream holds is bounded by that window.
type recvFlow struct {
	win     int32
	target  int32
	unacked int32
}

func (f *recvFlow) init(size int32) { *f = recvFlow{win: size, target: size} }

// take accounts for n bytes received, or reports false if they exceed
// the window: the server broke flow control.
func (f *recvFlow) take(n int32) bool {
	if n > f.win {
		return false
	}
	f.win -= n
	return true
}

// credit returns n bytes the application is done with. It returns the
// increment to announce in a WINDOW_UPDATE now, or 0 to wait: updates are
// batched until half the window is owed, so a stream of small reads costs
// one WINDOW_UPDATE per half window, not one per read.
func (f *recvFlow) credit(n int32) uint32 {
	f.unacked += n
	if f.unacked < max(f.target/2, 1) {
		return 0
	}
	inc := f.unacked
	f.win += inc
	f.unacked = 0
	return uint32(inc)
}

// creditShared is credit for the connection's window, which every stream
// shares. Streams whose readers stopped pin part of it with bytes that
// stay unread, and what the other streams' readers give back might then
// never add up to half the window: the server would wait for credit and
// the readers for bytes. So the batch also goes once it reaches what the
// server may still send (win). With nothing pinned that is the usual
// half window; with most of it pinned, credit returns as the server runs
// low.
func (f *recvFlow) creditShared(n int32) uint32 {
	f.unacked += n
	if f.unacked < max(min(f.target/2, f.win), 1) {
		return 0
	}
	inc := f.unacked
	f.win += inc
	f.unacked = 0
	return uint32(inc)
}

// grow raises the window's size by delta (>0). The caller announces it,
// by WINDOW_UPDATE or SETTINGS.
func (f *recvFlow) grow(delta int32) {
	f.target += delta
	f.win += delta
}

// addWindow adds inc to a send window, or reports false if that takes it
// past 2^31-1, a flow-control error (RFC 9113 §6.9.1). A send window may
// be negative after the server lowers SETTINGS_INITIAL_WINDOW_SIZE
// (§6.9.2); then nothing is sent until WINDOW_UPDATEs bring it above 0.
func addWindow(w *int64, inc int64) bool {
	if *w+inc > MaxWindowSize {
		return false
	}
	*w += inc
	return true
}

// bdpPing is the payload of the PINGs the bandwidth-delay estimator
// sends. A health-check Ping with the same payload would be taken for
// one.
var bdpPing = [8]byte{'e', 'g', 'r', 'e', 's', 's', 0xbd, 0x70}

// bdpEstimator measures the connection's bandwidth-delay product, in the
// manner grpc-go describes: a PING goes out with the first DATA after the
// previous measurement ended, the DATA bytes received until its
// acknowledgement are one sample of what the link delivers in a round
// trip, and when a sample nears the current window while the bandwidth
// it shows is the highest yet, the window was what limited it, so the
// window doubles (up to a cap). On a fast local link windows stay where
// they are; on a long fat one they grow in a few round trips to what the
// link can carry, instead of capping it at window/RTT.
type bdpEstimator struct {
	window int32 // the stream window the estimate currently supports
	limit  int32 // the cap
	// The samples, made by the first: most connections never see a body
	// large enough to start one, and need not carry their state.
	st *bdpSamples
}

type bdpSamples struct {
	pinging bool // a PING is out, and DATA is being counted
	sample  int64
	sentAt  time.Time
	rtt     time.Duration // smoothed round trip
	samples int
	bwMax   float64 // bytes per second, the highest seen
}

func (b *bdpEstimator) init(window, limit int32) {
	*b = bdpEstimator{window: window, limit: limit}
}

// pinging reports whether a sample's PING is out.
func (b *bdpEstimator) pinging() bool { return b.st != nil && b.st.pinging }

// data accounts for a DATA frame of n flow-controlled bytes and reports
// whether to send a PING now, starting a sample. Only a frame that
// promises more data (start) starts one: a small response fits in any
// window, and a PING for each would double the frames a request costs.
func (b *bdpEstimator) data(n int32, start bool, now func() time.Time) bool {
	if b.window >= b.limit {
		return false
	}
	if b.pinging() {
		b.st.sample += int64(n)
		return false
	}
	if !start {
		return false
	}
	if b.st == nil {
		b.st = new(bdpSamples)
	}
	st := b.st
	st.pinging = true
	st.sample = int64(n)
	st.sentAt = now()
	return true
}

// ack ends a sample when the PING's acknowledgement arrives. It returns
// the new window size when the window should grow, or 0.
func (b *bdpEstimator) ack(now time.Time) int32 {
	if !b.pinging() {
		return 0
	}
	st := b.st
	st.pinging = false
	rtt := max(now.Sub(st.sentAt), time.Microsecond)
	st.samples++
	if st.samples <= 8 {
		// The first samples are averaged, then older ones fade.
		st.rtt += (rtt - st.rtt) / time.Duration(st.samples)
	} else {
		st.rtt += (rtt - st.rtt) / 4
	}
	// Bandwidth over 1.5 round trips, a margin against a sample cut
	// short by the PING's own position in the stream.
	bw := float64(st.sample) / (1.5 * st.rtt.Seconds())
	if bw < st.bwMax {
		return 0
	}
	st.bwMax = bw
	if st.sample < int64(b.window)*2/3 {
		return 0
	}
	b.window = int32(min(2*st.sample, int64(b.limit)))
	return b.window
}
