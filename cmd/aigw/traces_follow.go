package main

// `aigw traces --follow`: the live stream, kept open across gateway
// restarts and dropped connections.
//
// Resuming: the admin API's live stream has no "resume from" position
// (its backlog is the restarted gateway's in-memory ring, empty after a
// restart), so on each reconnection the follower opens the stream first
// and then reads the stored traces from the list endpoint, printing those
// that ended while it was away, oldest first. The pipeline persists a batch
// before it publishes it, and publishes in the order requests end, so a
// trace not received live is either in the database by then or arrives on
// the new stream. Which stored traces are new is judged by end time (time
// + latency): those that ended before the last trace received live (less a
// second of slack) were received, the rest are printed unless their
// request id is among the last ids printed (a bounded set).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aigw/aigw/admin"
)

// followBackoff bounds the wait between reconnection attempts: it doubles
// from the first to the second. (A variable for tests.)
var followBackoff = [2]time.Duration{500 * time.Millisecond, 5 * time.Second}

const (
	// catchUpWindow is how long before the last trace received a request
	// may have started and still be found on reconnection.
	catchUpWindow = 10 * time.Minute
	// catchUpLimit is the most stored traces read on one reconnection
	// (the admin API's largest page).
	catchUpLimit = 10000
	// seenIDs is how many printed request ids are remembered to print
	// none twice.
	seenIDs = 4096
)

// follower prints the live traces of one `aigw traces --follow`.
type follower struct {
	a     *app
	c     *admin.Client
	q     admin.TraceQuery
	retry bool

	t   *table
	enc *json.Encoder

	seen      *idRing
	started   time.Time // when the stream was first opened
	lastEnd   time.Time // end time of the newest trace received live
	minWait   time.Duration
	maxWait   time.Duration
	headerOut bool
}

func (a *app) followTraces(ctx context.Context, c *admin.Client, q admin.TraceQuery, retry bool) error {
	q.Limit = 0
	f := &follower{a: a, c: c, q: q, retry: retry, t: traceTable(), enc: json.NewEncoder(a.io.Out),
		seen: newIDRing(seenIDs), minWait: followBackoff[0], maxWait: followBackoff[1]}
	// Rows arrive one at a time: columns get fixed widths up front.
	f.t.min = []int{8, 13, 16, 10, 18, 6, 8, 11, 10, 7, 20}
	return f.run(ctx)
}

func (f *follower) run(ctx context.Context) error {
	wait := time.Duration(0)
	lost := false // the connection was lost and not yet reopened
	for {
		attempt, cancel := context.WithCancel(ctx)
		var hookErr error
		q := f.q
		q.Opened = func() {
			wait = 0
			if f.started.IsZero() {
				f.started = time.Now()
				hookErr = f.header()
			} else {
				hookErr = f.catchUp(attempt)
				if hookErr == nil && lost {
					fmt.Fprintln(f.a.io.Err, "aigw: reconnected")
					lost = false
				}
			}
			if hookErr != nil {
				cancel() // ends the stream; its error is hookErr
			}
		}
		err := f.c.StreamTraces(attempt, q, f.print)
		cancel()
		if ctx.Err() != nil {
			return nil // Ctrl-C
		}
		if hookErr != nil {
			err = hookErr
		}
		if !f.lostConnection(err) {
			return err
		}
		if !f.retry {
			return fmt.Errorf("%w: the live trace stream was lost (%v); without --no-retry, --follow reconnects", admin.ErrUnreachable, err)
		}
		if !lost {
			lost = true
			fmt.Fprintln(f.a.io.Err, "aigw: connection lost, reconnecting…")
		}
		wait = min(max(wait*2, f.minWait), f.maxWait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// lostConnection tells a connection to retry from an error to report: the
// stream ended or the gateway cannot be reached, once the stream had been
// open (a first connection that fails is reported as it is), or the
// gateway answered 5xx (starting or stopping).
func (f *follower) lostConnection(err error) bool {
	if err == nil || f.started.IsZero() {
		return false
	}
	var ae *admin.APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500
	}
	return errors.Is(err, admin.ErrStreamEnded) || errors.Is(err, admin.ErrUnreachable)
}

func (f *follower) header() error {
	if f.a.output == "json" || f.headerOut {
		return nil
	}
	f.headerOut = true
	_, err := fmt.Fprint(f.a.io.Out, f.t.rowText(f.t.header, f.a.io.outWidth))
	return err
}

// print shows one live trace, unless the catch-up printed it already.
func (f *follower) print(tr admin.Trace) error {
	if end := traceEnd(tr); end.After(f.lastEnd) {
		f.lastEnd = end
	}
	if !f.seen.add(tr.RequestID) {
		return nil
	}
	return f.write(tr)
}

func (f *follower) write(tr admin.Trace) error {
	if f.a.output == "json" {
		return f.enc.Encode(jsonValue(tr))
	}
	f.t.rows = f.t.rows[:0]
	addTraceRow(f.t, tr)
	_, err := fmt.Fprint(f.a.io.Out, f.t.rowText(f.t.rows[0], f.a.io.outWidth))
	return err
}

// catchUp prints the stored traces that ended while the stream was down,
// oldest first.
func (f *follower) catchUp(ctx context.Context) error {
	from := f.started
	if lastEnd := f.lastEnd.Add(-time.Second); lastEnd.After(from) {
		from = lastEnd
	}
	q := f.q
	q.Opened, q.Cursor, q.Limit = nil, "", catchUpLimit
	since := from.Add(-catchUpWindow)
	if given, err := time.Parse(time.RFC3339, q.Since); err != nil || given.Before(since) {
		q.Since = since.UTC().Format(time.RFC3339Nano)
	}
	page, err := f.c.Traces(ctx, q)
	if err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(f.a.io.Err, "aigw: more than %d traces since %s; older ones of the gap are not shown (aigw traces --since)\n",
			catchUpLimit, since.Local().Format(time.RFC3339))
	}
	missed := make([]admin.Trace, 0, len(page.Traces))
	for _, tr := range page.Traces {
		if !traceEnd(tr).Before(from) {
			missed = append(missed, tr)
		}
	}
	slices.SortStableFunc(missed, func(a, b admin.Trace) int { return traceEnd(a).Compare(traceEnd(b)) })
	for _, tr := range missed {
		if err := f.print(tr); err != nil {
			return err
		}
	}
	return nil
}

// traceEnd is when a request ended: its start plus its latency.
func traceEnd(tr admin.Trace) time.Time {
	return tr.Time.Add(time.Duration(tr.LatencyMS * float64(time.Millisecond)))
}

// idRing is a set of the last n ids added; its memory is bounded.
type idRing struct {
	ids  map[string]struct{}
	ring []string
	next int
}

func newIDRing(n int) *idRing {
	return &idRing{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add records id and reports whether it was new.
func (s *idRing) add(id string) bool {
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
