package target

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// HTTP2Mode selects whether and how the server speaks HTTP/2.
type HTTP2Mode uint8

const (
	// H2None serves HTTP/1.1 alone, on the engine (the default).
	H2None HTTP2Mode = iota
	// H2TLS serves HTTPS offering h2 by ALPN and falling back to
	// http/1.1 on the same listener; it implies Config.TLS.
	H2TLS
	// H2C serves HTTP/2 in plain text by prior knowledge (h2c) and
	// HTTP/1.1 on the same port.
	H2C
)

// String names the mode as the command's flags do.
func (m HTTP2Mode) String() string {
	switch m {
	case H2None:
		return "none"
	case H2TLS:
		return "h2"
	case H2C:
		return "h2c"
	}
	return "HTTP2Mode(" + strconv.Itoa(int(m)) + ")"
}

// stdServer is the net/http server behind the HTTP/2 modes.
type stdServer struct {
	hs       *http.Server
	ln       net.Listener
	served   chan struct{} // closed when Serve has returned
	mu       sync.Mutex
	closed   bool
	handlers sync.WaitGroup // handlers running
	accepted atomic.Int64
	open     atomic.Int64
}

// startStd serves s on a net/http server in the given mode; cert is set
// for H2TLS.
func (s *Server) startStd(addr string, mode HTTP2Mode, cert *tls.Certificate) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	st := &stdServer{ln: ln, served: make(chan struct{})}
	var protos http.Protocols
	protos.SetHTTP1(true)
	hs := &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: time.Minute,
		Protocols:         &protos,
		ConnState: func(_ net.Conn, cs http.ConnState) {
			switch cs {
			case http.StateNew:
				st.accepted.Add(1)
				st.open.Add(1)
			case http.StateClosed, http.StateHijacked:
				st.open.Add(-1)
			}
		},
	}
	if s.idle > 0 {
		hs.IdleTimeout = s.idle
	}
	if mode == H2TLS {
		protos.SetHTTP2(true)
		hs.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{*cert},
			NextProtos:   []string{"h2", "http/1.1"},
		}
	} else {
		protos.SetUnencryptedHTTP2(true)
	}
	st.hs = hs
	s.std = st
	go func() {
		defer close(st.served)
		if mode == H2TLS {
			hs.ServeTLS(ln, "", "")
		} else {
			hs.Serve(ln)
		}
	}()
	return nil
}

// enter registers a handler; false once the server is closing.
func (st *stdServer) enter() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return false
	}
	st.handlers.Add(1)
	return true
}

// close stops the server and waits for Serve and every handler to return.
func (st *stdServer) close() {
	st.mu.Lock()
	st.closed = true
	st.mu.Unlock()
	st.hs.Close() // closes the listener and every connection
	<-st.served
	st.handlers.Wait()
}

// serveHTTP answers the endpoints of parseRoute, with the bodies and
// limits of the engine's HTTP/1.1 path.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.std.enter() {
		return
	}
	defer s.std.handlers.Done()
	rt := parseRoute([]byte(r.RequestURI))
	head := r.Method == http.MethodHead
	h := w.Header()
	switch rt.kind {
	case routeEcho:
		ctype := r.Header.Get("Content-Type")
		if ctype == "" {
			ctype = octetStream
		}
		h.Set("Content-Type", ctype)
		if r.ContentLength >= 0 {
			h.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
		}
		if head {
			break
		}
		// Returned as it arrives, as on the engine: HTTP/1.1 needs full
		// duplex asked for; HTTP/2 has it anyway.
		rc := http.NewResponseController(w)
		_ = rc.EnableFullDuplex()
		w.WriteHeader(http.StatusOK)
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				_ = rc.Flush()
			}
			if err != nil {
				break
			}
		}
	case routeBytes:
		h.Set("Content-Type", octetStream)
		h.Set("Content-Length", strconv.FormatInt(rt.n, 10))
		w.WriteHeader(http.StatusOK)
		if head {
			break
		}
		// Generated as the peer's flow control lets it go, so memory
		// stays bounded whatever N is.
		for left := rt.n; left > 0; {
			n := min(left, int64(len(pattern)))
			if _, err := w.Write(pattern[:n]); err != nil {
				return
			}
			left -= n
		}
	case routeChunked:
		h.Set("Content-Type", octetStream)
		w.WriteHeader(http.StatusOK)
		if head {
			break
		}
		// Each chunk is flushed on its own: HTTP/1.1 sends it as a chunk,
		// HTTP/2 as its own DATA frames.
		rc := http.NewResponseController(w)
		for range rt.n {
			for left := rt.size; left > 0; {
				n := min(left, int64(len(pattern)))
				if _, err := w.Write(pattern[:n]); err != nil {
					return
				}
				left -= n
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	case routeDelay:
		t := time.NewTimer(time.Duration(rt.n) * time.Millisecond)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
		fallthrough
	default:
		code, body := rt.simple()
		h.Set("Content-Type", textPlain)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if code == http.StatusNoContent || code == http.StatusNotModified {
			h.Del("Content-Length")
		}
		w.WriteHeader(code)
		if !head && code != http.StatusNoContent && code != http.StatusNotModified {
			io.WriteString(w, body)
		}
	}
	s.requests.Add(1)
}
