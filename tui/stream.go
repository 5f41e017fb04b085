package tui

import (
	"context"
	"time"

	"github.com/aigw/aigw/admin"
	tea "github.com/charmbracelet/bubbletea"
)

// liveFeed carries the live trace stream into the program. connect starts
// admin.Client.StreamTraces in a goroutine that feeds ch; next waits for
// one message from ch and is issued again after each one, so exactly one
// next is pending at any time. The goroutine ends with the stream (it then
// sends a streamEndedMsg) or when the TUI quits (ctx).
type liveFeed struct {
	ch      chan tea.Msg
	backlog int // recent traces replayed on each (re)connection
	// pending is a message next read while gathering traces; the next
	// next returns it. Only next touches it, and one next runs at a time.
	pending tea.Msg
}

// maxBatch bounds the traces one traceMsg carries.
const maxBatch = 256

func newLiveFeed(backlog int) *liveFeed {
	return &liveFeed{ch: make(chan tea.Msg, 256), backlog: backlog}
}

// connect opens the stream; what it reads arrives through next.
func (f *liveFeed) connect(c *common) tea.Cmd {
	return func() tea.Msg {
		go func() {
			opened := func() {
				select {
				case f.ch <- streamOpenMsg{}:
				case <-c.ctx.Done():
				}
			}
			err := c.client.StreamTraces(c.ctx, admin.TraceQuery{Backlog: f.backlog, Opened: opened}, func(t admin.Trace) error {
				select {
				case f.ch <- traceMsg{Traces: []admin.Trace{t}}:
					return nil
				case <-c.ctx.Done():
					return c.ctx.Err()
				}
			})
			select {
			case f.ch <- streamEndedMsg{Err: err}:
			case <-c.ctx.Done():
			}
		}()
		return nil
	}
}

// next waits for the stream's next message. Traces already waiting come
// together in one traceMsg, so that a busy gateway costs one redraw per
// batch rather than one per request.
func (f *liveFeed) next(ctx context.Context) tea.Cmd {
	return func() tea.Msg {
		if m := f.pending; m != nil {
			f.pending = nil
			return m
		}
		var first tea.Msg
		select {
		case first = <-f.ch:
		case <-ctx.Done():
			return nil
		}
		batch, ok := first.(traceMsg)
		for ok && len(batch.Traces) < maxBatch {
			select {
			case m := <-f.ch:
				more, isTrace := m.(traceMsg)
				if !isTrace {
					f.pending = m
					return batch
				}
				batch.Traces = append(batch.Traces, more.Traces...)
			default:
				return batch
			}
		}
		if ok {
			return batch
		}
		return first
	}
}

// backoff is the reconnection delay: it doubles from min to max after each
// failure and starts again from min once a trace has come through.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur < b.min {
		b.cur = b.min
	} else if b.cur *= 2; b.cur > b.max {
		b.cur = b.max
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// idSet remembers the last n request ids, to drop the traces a
// reconnection replays; its memory is bounded.
type idSet struct {
	ids  map[string]struct{}
	ring []string
	next int
}

func newIDSet(n int) *idSet {
	return &idSet{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add records id and reports whether it is new.
func (s *idSet) add(id string) bool {
	if id == "" {
		return true
	}
	if _, ok := s.ids[id]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.ids[id] = struct{}{}
	s.next = (s.next + 1) % len(s.ring)
	return true
}
