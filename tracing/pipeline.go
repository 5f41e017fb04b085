// Package tracing takes finished requests' traces off the request path: a
// bounded queue feeding one writer goroutine that logs them (and persists
// them, in batches). When the queue is full, Record waits — push-back
// rather than loss.
package tracing

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/aigw/aigw/store"
)

// Config sizes the pipeline.
type Config struct {
	QueueSize int
	// RequestLog receives one line per request (nil: none), as text or, with
	// LogJSON, as JSON — the shape of aigw's other log lines.
	RequestLog io.Writer
	LogJSON    bool
	// BatchSize bounds the traces handled per batch.
	BatchSize int
	// FlushInterval is the longest a trace waits in the queue: the writer
	// wakes up this often, or sooner when the queue fills past half.
	FlushInterval time.Duration
}

// Pipeline is the queue and its writer.
type Pipeline struct {
	cfg     Config
	queue   chan *store.Trace
	stopped chan struct{}
	wake    chan struct{} // the queue is past half full
	high    int
	done    chan struct{}
	once    sync.Once
	logBuf  []byte
	batch   []*store.Trace
}

// New creates the pipeline; Run must be started to drain it.
func New(cfg Config) *Pipeline {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 8192
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 512
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 200 * time.Millisecond
	}
	return &Pipeline{
		cfg:     cfg,
		queue:   make(chan *store.Trace, cfg.QueueSize),
		stopped: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		high:    max(cfg.QueueSize/2, 1),
		done:    make(chan struct{}),
	}
}

// Record queues t; it blocks while the queue is full. After Close it
// drops t (only requests that outlived the shutdown deadline get there).
func (p *Pipeline) Record(t *store.Trace) {
	select {
	case p.queue <- t:
	case <-p.stopped:
		return
	}
	if len(p.queue) >= p.high {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// Run handles traces until Close, then drains what is queued. It wakes up
// every FlushInterval (or when the queue is half full) and handles what is
// queued in batches, so a busy gateway pays one write per batch and no
// goroutine switch per request.
func (p *Pipeline) Run() {
	defer close(p.done)
	tick := time.NewTicker(p.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-p.wake:
		case <-p.stopped:
			p.drain()
			return
		}
		p.drain()
	}
}

// drain handles everything queued, BatchSize traces at a time.
func (p *Pipeline) drain() {
	for {
		p.batch = p.batch[:0]
		for len(p.batch) < p.cfg.BatchSize {
			select {
			case t := <-p.queue:
				p.batch = append(p.batch, t)
				continue
			default:
			}
			break
		}
		if len(p.batch) == 0 {
			return
		}
		p.handle(p.batch)
		clear(p.batch)
	}
}

func (p *Pipeline) handle(batch []*store.Trace) {
	if p.cfg.RequestLog != nil {
		b := p.logBuf[:0]
		for _, t := range batch {
			b = appendLogLine(b, t, p.cfg.LogJSON)
		}
		_, _ = p.cfg.RequestLog.Write(b)
		if cap(b) <= 1<<20 {
			p.logBuf = b
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
