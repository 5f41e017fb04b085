// Package proxy is aigw's data plane: a fasthttp server that forwards
// {provider}/{path} to the provider's base URL.
//
// Ownership (fasthttp): a *fasthttp.RequestCtx, its request and response,
// and every []byte taken from their headers or bodies are valid only until
// the handler returns (or, for a streamed response, until the body stream is
// closed). Anything a goroutine or a later step keeps is copied first.
//
// The request path never touches the database: providers, credentials and
// keys live in an immutable snapshot that Load swaps in atomically.
package proxy

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/store"
	"github.com/valyala/fasthttp"
)

// Config is what the proxy needs from aigw's configuration.
type Config struct {
	MaxBodySize int
	ReadTimeout time.Duration
	IdleTimeout time.Duration
	Logger      *slog.Logger
}

// Proxy is the data-plane server.
type Proxy struct {
	cfg    Config
	log    *slog.Logger
	snap   atomic.Pointer[snapshot]
	server *fasthttp.Server
}

// New builds a proxy with an empty snapshot.
func New(cfg Config) *Proxy {
	p := &Proxy{cfg: cfg, log: cfg.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.snap.Store(&snapshot{providers: map[string]*provider{}})
	p.server = &fasthttp.Server{
		Name:                         "aigw",
		Handler:                      p.handle,
		MaxRequestBodySize:           cfg.MaxBodySize,
		ReadTimeout:                  cfg.ReadTimeout,
		IdleTimeout:                  cfg.IdleTimeout,
		NoDefaultServerHeader:        true,
		NoDefaultDate:                true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
	}
	return p
}

// Load builds a snapshot from d and swaps it in; requests in flight keep
// the snapshot they started with.
func (p *Proxy) Load(d *store.Data) error {
	s, err := buildSnapshot(d)
	if err != nil {
		return err
	}
	p.snap.Store(s)
	return nil
}

// Serve answers requests on ln until Shutdown.
func (p *Proxy) Serve(ln net.Listener) error { return p.server.Serve(ln) }

// Shutdown stops accepting connections and waits for requests in flight
// until ctx ends.
func (p *Proxy) Shutdown(ctx context.Context) error { return p.server.ShutdownWithContext(ctx) }
