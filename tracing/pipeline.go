// Package tracing takes finished requests' traces off the request path: a
// bounded queue feeding one writer goroutine that logs them (and persists
// them, in batches). When the queue is full, Record waits — push-back
// rather than loss.
package tracing

import (
	"context"
	"log/slog"
	"sync"

	"github.com/aigw/aigw/store"
)

// Config sizes the pipeline.
type Config struct {
	QueueSize int
	Logger    *slog.Logger // one line per request; nil: none
}

// Pipeline is the queue and its writer.
type Pipeline struct {
	queue   chan *store.Trace
	stopped chan struct{}
	done    chan struct{}
	log     *slog.Logger
	once    sync.Once
}

// New creates the pipeline; Run must be started to drain it.
func New(cfg Config) *Pipeline {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 8192
	}
	return &Pipeline{
		queue:   make(chan *store.Trace, cfg.QueueSize),
		stopped: make(chan struct{}),
		done:    make(chan struct{}),
		log:     cfg.Logger,
	}
}

// Record queues t; it blocks while the queue is full. After Close it
// drops t (only requests that outlived the shutdown deadline get there).
func (p *Pipeline) Record(t *store.Trace) {
	select {
	case p.queue <- t:
	case <-p.stopped:
	}
}

// Run writes traces until Close, then drains what is queued.
func (p *Pipeline) Run() {
	defer close(p.done)
	for {
		select {
		case t := <-p.queue:
			p.write(t)
		case <-p.stopped:
			for {
				select {
				case t := <-p.queue:
					p.write(t)
				default:
					return
				}
			}
		}
	}
}

// Close stops accepting traces, lets Run flush the queue and waits for it
// (or for ctx).
func (p *Pipeline) Close(ctx context.Context) error {
	p.once.Do(func() { close(p.stopped) })
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Pipeline) write(t *store.Trace) {
	if p.log == nil {
		return
	}
	p.log.LogAttrs(context.Background(), slog.LevelInfo, "request",
		slog.String("id", t.RequestID),
		slog.String("key", t.KeyID),
		slog.String("key_preview", t.KeyPreview),
		slog.String("provider", t.Provider),
		slog.String("credential", t.CredentialID),
		slog.String("strategy", t.Strategy),
		slog.Int("attempts", len(t.Attempts)),
		slog.Int("status", t.Status),
		slog.Float64("latency_ms", t.LatencyMS),
		slog.Float64("overhead_ms", t.OverheadMS),
		slog.String("error", t.Error),
	)
}
