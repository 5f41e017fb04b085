package proxytest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrNotLoopback is returned by [Start] for an address that is not on the
// loopback interface. The fake never listens anywhere else.
var ErrNotLoopback = errors.New("proxytest: not a loopback address")

// Server is a running fake provider: an [Upstream] served over HTTP/1.1 on a
// loopback listener. The methods of the embedded Upstream program and inspect
// it.
type Server struct {
	*Upstream

	// URL is the base URL of the server, "http://127.0.0.1:PORT".
	URL string

	ln        net.Listener
	srv       *http.Server
	served    chan struct{}
	closeOnce sync.Once
}

// NewServer starts a fake provider on 127.0.0.1 at an ephemeral port. Like
// httptest.NewServer it panics if it cannot listen; call [Server.Close] when
// done.
func NewServer() *Server {
	s, err := Start("127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("proxytest: %v", err))
	}
	return s
}

// Start starts a fake provider listening on addr, which must be a loopback
// address with a port ("127.0.0.1:0", "[::1]:8081", "localhost:9000");
// anything else, including an empty host, fails with [ErrNotLoopback].
func Start(addr string) (*Server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("proxytest: address %q: %w", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("proxytest: listen: %w", err)
	}
	s := &Server{
		Upstream: NewUpstream(),
		URL:      "http://" + ln.Addr().String(),
		ln:       ln,
		served:   make(chan struct{}),
	}
	s.srv = &http.Server{
		Handler:           s.Upstream,
		ReadHeaderTimeout: 30 * time.Second,
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Handler is the server's fake provider as an [http.Handler], for serving it
// on another loopback listener as well.
func (s *Server) Handler() http.Handler { return s.Upstream }

// Close stops the server: it releases every held or delayed response, closes
// the listener and all connections, and waits for the handlers to return.
// Close may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.Upstream.stop()
		_ = s.srv.Close()
		<-s.served
		s.Upstream.Close()
	})
}
