package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The traces bucket maps a request id (13 characters of base32hex whose
// lexicographic order is their time order) to the trace as compact JSON, so
// walking the bucket backwards lists traces newest first and pruning walks it
// from the front. The meta bucket keeps the number of stored traces, so that
// retention by count never walks the bucket.

var metaTraceCount = []byte("trace_count")

const (
	// maxRequestIDLen bounds a trace's key; the proxy's ids have 13 characters.
	maxRequestIDLen = 64
	// traceFillPercent: ids grow with time, so the bucket is (almost) append
	// only and its pages can be split fuller than bbolt's default of half.
	traceFillPercent = 0.9

	defaultTraceLimit = 100
	maxTraceLimit     = 10000
)

// WriteTraces stores a batch of finished traces and adds them to the usage
// roll-ups (per key and per credential) in one transaction: the whole batch
// is written or none of it.
// Every trace is checked and encoded before the transaction starts (a trace
// without a request id, or one that cannot be encoded, fails the batch and
// writes nothing), so the write lock is held only for the B-tree work.
// A request id that is already stored — earlier in the same batch or in an
// earlier one — is skipped: the first write wins and is counted once.
func (s *Store) WriteTraces(batch []*Trace) error {
	if len(batch) == 0 {
		return nil
	}
	w := &s.traceWriter
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.shrink()
	vals, err := w.encode(batch, s.yield)
	if err != nil {
		return err
	}
	// In key (= time) order, Puts walk the B-tree's right edge, and a
	// duplicate id — which callers never send — is next to its first copy.
	order := w.order[:0]
	for i := range batch {
		order = append(order, i)
	}
	w.order = order
	byID := func(a, b int) int { return strings.Compare(batch[a].RequestID, batch[b].RequestID) }
	if !slices.IsSortedFunc(order, byID) { // most batches come in order already
		slices.SortStableFunc(order, byID)
	}
	defer s.releaseAfterWrite(len(w.buf))
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTraces)
		b.FillPercent = traceFillPercent
		ix := newIxWriter(tx, s.yield, &w.ix)
		// Only an id at or below the newest stored one can exist already.
		last, _ := b.Cursor().Last()
		count := traceCount(tx)
		roll, credRoll := newRollups(len(batch)), newCredentialRollups()
		prev := ""
		var key []byte // bbolt copies the key it is given
		for n, i := range order {
			if n > 0 && n%YieldEvery == 0 {
				s.yield()
			}
			t := batch[i]
			key = append(key[:0], t.RequestID...)
			if n > 0 && t.RequestID == prev {
				continue
			}
			prev = t.RequestID
			if bytes.Compare(key, last) <= 0 && b.Get(key) != nil {
				continue
			}
			// bbolt keeps a reference to the value until the commit: vals
			// are w.buf's, which nothing writes to before WriteTraces returns.
			if err := b.Put(key, vals[i]); err != nil {
				return fmt.Errorf("store trace %s: %w", t.RequestID, err)
			}
			if err := ix.add(t, bytes.Compare(key, last) > 0); err != nil {
				return err
			}
			count++
			roll.add(t)
			credRoll.add(t)
		}
		if err := ix.flush(); err != nil {
			return err
		}
		if err := roll.flush(tx.Bucket(bucketUsage), tx.Bucket(bucketUsageModels)); err != nil {
			return err
		}
		if err := credRoll.flush(tx.Bucket(bucketUsageCredentials)); err != nil {
			return err
		}
		return putTraceCount(tx, count)
	})
}

// unmapPages releases the pages of the database file that reads have
// mapped into the process. Every batch of traces is written to fresh pages
// and the next batch reads them back through the mapping (the kernel maps
// their neighbours along), so without this the gateway's resident memory
// would creep towards the size of the file. The pages stay in the page
// cache; the few that the next transaction reads fault back in. It runs in
// a read transaction, which keeps bbolt from remapping meanwhile.
func (s *Store) unmapPages() {
	_ = s.db.View(func(tx *bolt.Tx) error {
		s.unmapPagesIn(tx)
		return nil
	})
}

// releaseEvery is how many bytes of traces are written between two
// releases of the mapped pages. Under load a batch or two reach it, so the
// writer releases as often as before; a gateway writing a trace now and
// then keeps the pages a listing read mapped until the next release
// (ReleaseMapped's every 30 s at the latest), so that an operator's next
// query does not fault them all back in (`aigw traces --key K` at 10
// million traces: 8.5 ms of the admin API's time after a write, 1 ms
// without).
const releaseEvery = 1 << 20

// releaseAfterWrite counts n bytes of traces written and releases the
// mapped pages when releaseEvery have been since the last release.
func (s *Store) releaseAfterWrite(n int) {
	if s.unreleased.Add(int64(n)) < releaseEvery {
		return
	}
	s.unreleased.Store(0)
	s.unmapPages()
}

// ReleaseMapped gives back the pages of the database file that reads have
// mapped into the process since the last release (see unmapPages); the
// gateway calls it now and then, so that pages read by admin writes and
// listings do not stay resident while no trace is written.
func (s *Store) ReleaseMapped() { s.unmapPages() }

// unmapPagesIn is unmapPages inside a transaction (which keeps bbolt from
// remapping meanwhile). Long walks over the traces call it every
// unmapEvery traces, so that a query or a prune over millions of them
// does not make the whole file resident on the way.
func (s *Store) unmapPagesIn(tx *bolt.Tx) {
	dropMapped(s.db.Info().Data, tx.Size())
}

// unmapEvery is how many traces a long walk reads between unmapPagesIn
// calls: about a megabyte of pages.
const unmapEvery = 4096

// traceWriter holds WriteTraces' buffers from one batch to the next: a
// batch of a few thousand traces encodes to hundreds of kilobytes, and
// allocating that afresh for every transaction was most of what the
// writer gave the garbage collector to do. bbolt holds on to the values
// only until the commit, so they are free again when WriteTraces returns.
type traceWriter struct {
	mu    sync.Mutex
	buf   []byte
	vals  [][]byte
	ends  []int
	order []int
	ix    ixLists // the index's id lists, emptied after every batch
}

// encode checks every trace of a batch and returns their encodings, each
// a sub-slice of w.buf.
func (w *traceWriter) encode(batch []*Trace, yield func()) ([][]byte, error) {
	buf, ends := w.buf[:0], w.ends[:0]
	for i, t := range batch {
		if i > 0 && i%YieldEvery == 0 {
			yield()
		}
		if t == nil {
			return nil, invalid("traces", "trace %d of %d is nil", i+1, len(batch))
		}
		switch {
		case t.RequestID == "":
			return nil, invalid("request_id", "trace %d of %d has none", i+1, len(batch))
		case len(t.RequestID) > maxRequestIDLen:
			return nil, invalid("request_id", "%.20q… is longer than %d bytes", t.RequestID, maxRequestIDLen)
		}
		for _, f := range [...]float64{t.LatencyMS, t.TTFBMS, t.OverheadMS, t.CostUSD} {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("encode trace %s: a number is not finite (%v)", t.RequestID, f)
			}
		}
		buf = appendTrace(buf, t)
		ends = append(ends, len(buf))
	}
	vals := w.vals[:0]
	start := 0
	for _, end := range ends {
		vals = append(vals, buf[start:end:end])
		start = end
	}
	w.buf, w.ends, w.vals = buf, ends, vals
	return vals, nil
}

// shrink lets go of the buffers after an unusually large batch, and of
// the references to the last batch's values.
func (w *traceWriter) shrink() {
	clear(w.vals)
	w.ix.reset()
	if cap(w.buf) > 4<<20 {
		w.buf, w.vals, w.ends, w.order = nil, nil, nil, nil // not the mutex: it is held
	}
}

// traceCount reads the stored trace count inside tx.
func traceCount(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(metaTraceCount); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	// No counter yet: a fresh file (the bucket is empty, this is cheap). The
	// next write stores the counter.
	return uint64(tx.Bucket(bucketTraces).Stats().KeyN)
}

func putTraceCount(tx *bolt.Tx, n uint64) error {
	return tx.Bucket(bucketMeta).Put(metaTraceCount, u64(n))
}

// TraceCount is the number of stored traces (from the meta counter).
func (s *Store) TraceCount() (uint64, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		n = traceCount(tx)
		return nil
	})
	return n, err
}

// Trace returns one trace by request id (ErrNotFound).
func (s *Store) Trace(id string) (Trace, error) {
	var t Trace
	err := s.db.View(func(tx *bolt.Tx) error {
		if id == "" {
			return ErrNotFound
		}
		raw := tx.Bucket(bucketTraces).Get([]byte(id))
		if raw == nil {
			return ErrNotFound
		}
		return decodeTrace(raw, &t)
	})
	if err != nil {
		return Trace{}, fmt.Errorf("trace %q: %w", id, err)
	}
	return t, nil
}

// TraceFilter selects traces, newest first. The zero value selects the
// newest 100 traces.
type TraceFilter struct {
	KeyID, Provider, Model string    // exact match when set
	Status                 int       // exact HTTP status when > 0
	StatusClass            int       // 1…5: any status in that hundred (5 → 500..599) when > 0
	Since, Until           time.Time // Trace.Time within [Since, Until) when set
	Before                 string    // cursor: only traces with RequestID < Before (the previous page's NextCursor)
	Limit                  int       // default 100, at most 10000 (larger values are capped)
}

// Traces returns matching traces newest first and a cursor for the next
// (older) page, "" when there is no more. It walks the bucket backwards from
// Before (or the newest trace) — or, when the filter has an indexed field,
// the index's ids of its values (traces_index.go) — and stops at Limit
// matches or at the first trace older than Since. To tell whether an older
// page exists it looks for one more match past Limit. Never returns nil.
func (s *Store) Traces(f TraceFilter) ([]Trace, string, error) {
	m, err := newTraceMatcher(f)
	if err != nil {
		return []Trace{}, "", err
	}
	out := make([]Trace, 0, min(m.limit, 256))
	next := ""
	err = s.db.View(func(tx *bolt.Tx) error {
		scanned := 0
		// A walk that read many traces lets go of their pages. A short one
		// (a page through the index, the newest traces) keeps its few
		// hundred kilobytes mapped until the trace writer's next batch
		// unmaps everything: faulting the pages back in is most of a short
		// listing's time (15 ms instead of 0.3 for a rare key's 50 traces
		// among 500,000), and an operator's next page reads the same ones.
		defer func() {
			if scanned >= unmapEvery/8 {
				s.unmapPagesIn(tx)
			}
		}()
		// visit takes the next trace of the walk, newest first.
		visit := func(k, v []byte) (stop bool, err error) {
			if scanned++; scanned%unmapEvery == 0 {
				s.unmapPagesIn(tx)
			}
			var t Trace
			ok, stop, err := m.match(v, &t)
			if err != nil {
				return true, fmt.Errorf("trace %q: %w", k, err)
			}
			if stop || !ok {
				return stop, nil
			}
			if len(out) == m.limit { // one match past the page: there is an older page
				next = out[len(out)-1].RequestID
				return true, nil
			}
			out = append(out, t)
			return false, nil
		}
		traces := tx.Bucket(bucketTraces)
		if qs := indexQueries(&f); len(qs) > 0 && traceIndexReady(tx) {
			return indexedTraces(tx, qs, f.Before, func(id []byte) (bool, error) {
				v := traces.Get(id)
				if v == nil {
					return false, nil
				}
				return visit(id, v)
			})
		}
		c := traces.Cursor()
		var k, v []byte
		if f.Before != "" {
			if k, _ = c.Seek([]byte(f.Before)); k != nil {
				k, v = c.Prev()
			} else {
				k, v = c.Last()
			}
		} else {
			k, v = c.Last()
		}
		for ; k != nil; k, v = c.Prev() {
			if stop, err := visit(k, v); err != nil || stop {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return []Trace{}, "", err
	}
	return out, next, nil
}

// traceMatcher applies a TraceFilter to stored traces. It reads the time
// alone first (a trace older than Since ends the walk), then decodes the
// trace and checks it field by field.
type traceMatcher struct {
	f     TraceFilter
	limit int
}

func newTraceMatcher(f TraceFilter) (*traceMatcher, error) {
	if f.StatusClass < 0 || f.StatusClass > 5 {
		return nil, invalid("status_class", "%d is not 1 to 5 (e.g. 5 for 5xx)", f.StatusClass)
	}
	if f.Status < 0 {
		return nil, invalid("status", "%d is negative", f.Status)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return nil, invalid("since", "%s is after until (%s)", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	m := &traceMatcher{f: f, limit: f.Limit}
	switch {
	case m.limit <= 0:
		m.limit = defaultTraceLimit
	case m.limit > maxTraceLimit:
		m.limit = maxTraceLimit
	}
	return m, nil
}

// match decodes raw into t when it matches. stop reports a trace older
// than Since: every trace further back is older still.
func (m *traceMatcher) match(raw []byte, t *Trace) (ok, stop bool, err error) {
	f := &m.f
	if !f.Since.IsZero() || !f.Until.IsZero() {
		tm, err := traceTime(raw)
		if err != nil {
			return false, false, err
		}
		if !f.Since.IsZero() && tm.Before(f.Since) {
			return false, true, nil
		}
		if !f.Until.IsZero() && !tm.Before(f.Until) {
			return false, false, nil
		}
	}
	if err := decodeTrace(raw, t); err != nil {
		return false, false, err
	}
	switch {
	case f.KeyID != "" && t.KeyID != f.KeyID,
		f.Provider != "" && t.Provider != f.Provider,
		f.Model != "" && t.Model != f.Model,
		f.Status > 0 && t.Status != f.Status,
		f.StatusClass > 0 && t.Status/100 != f.StatusClass:
		return false, false, nil
	}
	return true, false, nil
}

// storedTraceTime is the time of a stored trace.
func storedTraceTime(raw []byte) (time.Time, error) { return traceTime(raw) }
