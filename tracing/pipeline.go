// Package tracing takes finished requests' traces off the request path: a
// bounded queue feeding one writer goroutine that persists them in batches
// (one database transaction per batch, usage roll-ups included), feeds the
// live view (a ring of recent traces and subscribers), and logs one line
// per request. When the queue is full, Record waits — push-back rather
// than loss.
package tracing

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/store"
)

// Store persists batches of traces (store.Store does).
type Store interface {
	WriteTraces(batch []*store.Trace) error
}

// Observer hears of every persisted trace (metrics, quota seeds).
type Observer interface {
	Observe(t *store.Trace)
}

// Config sizes the pipeline.
type Config struct {
	QueueSize int
	// BatchSize bounds the traces written per transaction.
	BatchSize int
	// FlushInterval is the longest a trace waits in the queue: the writer
	// wakes up this often, or sooner when a whole batch (at most half the
	// queue) is waiting, so that a busy gateway keeps few traces in memory.
	FlushInterval time.Duration
	// Store persists traces (nil: not persisted).
	Store Store
	// Yield, when set, is called every store.YieldEvery traces while a
	// batch is observed and logged (see store.Options.Yield).
	Yield func()
	// Observers hear of every trace after it was written.
	Observers []Observer
	// Recent is how many traces the live view keeps (default 1000).
	Recent int
	// RequestLog receives one line per request (nil: none), as text or, with
	// LogJSON, as JSON — the shape of aigw's other log lines.
	RequestLog io.Writer
	LogJSON    bool
	// Logger reports the pipeline's own failures.
	Logger *slog.Logger
}

// Pipeline is the queue and its writer.
type Pipeline struct {
	cfg     Config
	queue   chan *store.Trace
	stopped chan struct{}
	wake    chan struct{} // a batch is waiting (or the queue is half full)
	flush   chan chan struct{}
	high    int
	done    chan struct{}
	once    sync.Once
	closed  atomic.Bool // set by Close, before stopped is closed
	logBuf  []byte
	batch   []*store.Trace
	lagNS   atomic.Int64 // age of the oldest trace of the last batch when written
	written atomic.Uint64
	lost    atomic.Uint64

	mu     sync.Mutex // guards the live view; taken by the writer once per batch
	ring   []*store.Trace
	next   int
	filled bool
	subs   map[*subscriber]struct{}
}

type subscriber struct {
	ch      chan *store.Trace
	dropped atomic.Uint64
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
	if cfg.Recent <= 0 {
		cfg.Recent = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{
		cfg:     cfg,
		queue:   make(chan *store.Trace, cfg.QueueSize),
		stopped: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		flush:   make(chan chan struct{}),
		high:    max(min(cfg.BatchSize, cfg.QueueSize/2), 1),
		done:    make(chan struct{}),
		ring:    make([]*store.Trace, cfg.Recent),
		subs:    map[*subscriber]struct{}{},
	}
}

// Record queues t; it blocks while the queue is full. After Close it
// drops t (only requests that outlived the shutdown deadline get there).
// t must not be changed afterwards.
func (p *Pipeline) Record(t *store.Trace) {
	if p.closed.Load() {
		p.lost.Add(1)
		return
	}
	select {
	case p.queue <- t: // room: the usual case, no wait
	default:
		select { // full: wait for the writer, unless it stops
		case p.queue <- t:
		case <-p.stopped:
			p.lost.Add(1)
			return
		}
	}
	if len(p.queue) >= p.high {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// Run handles traces until Close, then drains what is queued. It wakes up
// when a batch is waiting, or after FlushInterval without one, and writes
// what is queued in batches, so a busy gateway pays one transaction and one
// log write per full batch and no goroutine switch per request.
func (p *Pipeline) Run() {
	defer close(p.done)
	tick := time.NewTicker(p.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-p.wake:
		case done := <-p.flush:
			p.drain(true)
			close(done)
			tick.Reset(p.cfg.FlushInterval)
			continue
		case <-p.stopped:
			p.drain(true)
			return
		}
		// What arrives from now on waits at most one interval.
		tick.Reset(p.cfg.FlushInterval)
		p.drain(false)
	}
}

// Flush writes every trace queued now (and its observers see them) before
// it returns, or gives up when ctx ends or the pipeline is closed. A budget
// set now is seeded from what was spent up to this moment, not up to the
// last batch.
func (p *Pipeline) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case p.flush <- done:
	case <-p.stopped:
		return errors.New("trace pipeline closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain writes what is queued, BatchSize traces at a time. Unless all is
// set, it stops once less than a batch is left: the traces that arrived
// while a batch was being written wait for the next batch, instead of
// making a transaction of their own each — a writer that kept going would
// settle on batches as small as what arrives during one commit.
func (p *Pipeline) drain(all bool) {
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
		if !all && len(p.queue) < p.high {
			return
		}
	}
}

// yield calls Config.Yield, if set.
func (p *Pipeline) yield() {
	if p.cfg.Yield != nil {
		p.cfg.Yield()
	}
}

// logChunk is how many bytes of request log lines handle writes at once.
const logChunk = 32 << 10

func (p *Pipeline) handle(batch []*store.Trace) {
	if p.cfg.Store != nil {
		p.persist(batch)
	}
	now := time.Now()
	oldest := batch[0].Time
	for i, t := range batch {
		if i > 0 && i%store.YieldEvery == 0 {
			p.yield()
		}
		if t.Time.Before(oldest) {
			oldest = t.Time
		}
		for _, o := range p.cfg.Observers {
			o.Observe(t)
		}
	}
	p.lagNS.Store(int64(now.Sub(oldest)))
	p.publish(batch)
	if p.cfg.RequestLog != nil {
		// Lines go out logChunk bytes at a time (whole lines), so the
		// buffer a batch of 2,048 needs is not kept between batches.
		b := p.logBuf[:0]
		for i, t := range batch {
			if i > 0 && i%store.YieldEvery == 0 {
				p.yield()
			}
			b = appendLogLine(b, t, p.cfg.LogJSON)
			if len(b) >= logChunk {
				_, _ = p.cfg.RequestLog.Write(b)
				b = b[:0]
			}
		}
		if len(b) > 0 {
			_, _ = p.cfg.RequestLog.Write(b)
		}
		if cap(b) <= 2*logChunk {
			p.logBuf = b
		}
	}
}

// persist writes the batch, retrying a failed transaction a few times
// (a full disk, say) before giving the batch up with an error in the log.
func (p *Pipeline) persist(batch []*store.Trace) {
	var err error
	for attempt := range 3 {
		if err = p.cfg.Store.WriteTraces(batch); err == nil {
			p.written.Add(uint64(len(batch)))
			return
		}
		var ve *store.ValidationError
		if errors.As(err, &ve) && len(batch) > 1 {
			// One bad trace refuses the whole batch: write them one by one
			// so that only the bad one is lost.
			for _, t := range batch {
				p.persist([]*store.Trace{t})
			}
			return
		}
		if errors.As(err, &ve) {
			break // retrying cannot help
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	p.lost.Add(uint64(len(batch)))
	p.cfg.Logger.Error("traces could not be written; they are lost", "traces", len(batch), "err", err)
}

// publish adds the batch to the ring of recent traces and hands it to
// every subscriber. A subscriber too slow to keep up misses traces (the
// live view only; the database has them all).
func (p *Pipeline) publish(batch []*store.Trace) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range batch {
		p.ring[p.next] = t
		p.next++
		if p.next == len(p.ring) {
			p.next, p.filled = 0, true
		}
		for s := range p.subs {
			select {
			case s.ch <- t:
			default:
				s.dropped.Add(1)
			}
		}
	}
}

// Subscribe returns a channel of new traces (buffered) and a function to
// stop. Traces are shared: read them, never change them.
func (p *Pipeline) Subscribe(buffer int) (<-chan *store.Trace, func()) {
	s := &subscriber{ch: make(chan *store.Trace, max(buffer, 1))}
	p.mu.Lock()
	p.subs[s] = struct{}{}
	p.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			p.mu.Lock()
			delete(p.subs, s)
			p.mu.Unlock()
		})
	}
}

// Recent returns up to n of the latest traces, oldest first.
func (p *Pipeline) Recent(n int) []*store.Trace {
	p.mu.Lock()
	defer p.mu.Unlock()
	size := p.next
	if p.filled {
		size = len(p.ring)
	}
	n = min(n, size)
	out := make([]*store.Trace, 0, n)
	for i := size - n; i < size; i++ {
		idx := i
		if p.filled {
			idx = (p.next + i) % len(p.ring)
		}
		out = append(out, p.ring[idx])
	}
	return out
}

// Stats are the pipeline's figures for /metrics.
type Stats struct {
	Queued  int           // traces waiting
	Lag     time.Duration // how old the oldest trace of the last batch was when written
	Written uint64        // traces persisted
	Lost    uint64        // traces given up (write failures, or recorded after Close)
}

// Stats reports the pipeline's figures.
func (p *Pipeline) Stats() Stats {
	return Stats{Queued: len(p.queue), Lag: time.Duration(p.lagNS.Load()), Written: p.written.Load(), Lost: p.lost.Load()}
}

// Close stops accepting traces, lets Run flush the queue and waits for it
// (or for ctx).
func (p *Pipeline) Close(ctx context.Context) error {
	p.once.Do(func() {
		p.closed.Store(true)
		close(p.stopped)
	})
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
