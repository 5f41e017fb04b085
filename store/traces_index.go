package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// The trace index lets a filtered listing read only the traces it may
// return: without it, a filter that matches one trace in ten thousand walks
// the whole traces bucket. It is kept in WriteTraces' transaction and by
// PruneTraces, in one bucket of records:
//
//	key:   field (1 byte) · epoch (4 bytes) · FNV-1a 64 of the value (8 bytes) · first id
//	value: the request ids of one batch's traces with that value in that
//	       epoch, ascending, packed as numbers (encodeIDs)
//
// An epoch is a run of about epochSize consecutive request ids (the epochs
// bucket maps each epoch's first id to its number). A batch of traces
// writes one new record per value it holds, mostly in the newest epoch,
// and never rewrites one: an entry per trace and value instead made
// writing traces 4–8 times slower with 1,000 keys (a B-tree insert each,
// spread over as many pages as there are values), and growing one record
// per epoch and value rewrote the common values' long records every batch.
// Epochs are in id order, so Traces walks a value's records backwards, one
// seek per epoch, merging the few records of an epoch. The value is hashed so that every record
// has the same short key whatever the client put in a model name (length,
// NUL bytes); a hash collision only adds candidates, and every candidate is
// checked on the trace itself.
//
// Indexed: the key id, the provider and the model (when set), and the
// status class of statuses outside 2xx (most traces are 2xx: a listing of
// those finds its page by walking the traces). A filter on several indexed
// fields walks their records together and reads only the ids all of them
// hold.

var (
	bucketTraceIndex = []byte("trace_index")
	// bucketTraceEpochs maps an epoch's first request id to its number
	// (4 bytes) and how many traces it got while it was the newest (8 bytes).
	bucketTraceEpochs = []byte("trace_index_epochs")
)

// metaTraceIndexFrom, while present, says the index is still being built
// for the traces stored before it existed: its value is the request id to
// continue from (buildTraceIndex).
var metaTraceIndexFrom = []byte("trace_index_from")

// Index fields: the first byte of a record's key.
const (
	ixKey      = 'k'
	ixProvider = 'p'
	ixModel    = 'm'
	ixStatus   = 's' // the status class, as one digit
)

// ixKeyLen is a record key's length before the first id.
const ixKeyLen = 1 + 4 + 8

// epochSize is how many traces start a new epoch: a listing seeks once
// per epoch and value, and reads all of an epoch's ids of the value at
// once. A variable for tests.
var epochSize uint64 = 16384

// fnv64a is FNV-1a (64 bit) of s: stable across builds and processes.
func fnv64a[T string | []byte](s T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

type ixRecKey [ixKeyLen]byte

func recKey(field byte, epoch uint32, hash uint64) ixRecKey {
	var k ixRecKey
	k[0] = field
	binary.BigEndian.PutUint32(k[1:5], epoch)
	binary.BigEndian.PutUint64(k[5:], hash)
	return k
}

// indexedStatus is the class digit indexed for status ("" for 2xx and
// statuses outside 100..599, which are not indexed).
func indexedStatus(status int) string {
	if status < 100 || status > 599 || status/100 == 2 {
		return ""
	}
	return string(rune('0' + status/100))
}

// eachIndexed calls fn with the record of each indexed field of t in epoch.
func eachIndexed(t *Trace, epoch uint32, fn func(k ixRecKey)) {
	eachIndexedValue(t.KeyID, t.Provider, t.Model, t.Status, epoch, fn)
}

// eachIndexedValue is eachIndexed of a trace's key id, provider, model and
// status.
func eachIndexedValue[T string | []byte](key, provider, model T, status int, epoch uint32, fn func(k ixRecKey)) {
	for _, f := range [...]struct {
		field byte
		value T
	}{{ixKey, key}, {ixProvider, provider}, {ixModel, model}} {
		if len(f.value) > 0 {
			fn(recKey(f.field, epoch, fnv64a(f.value)))
		}
	}
	if st := indexedStatus(status); st != "" {
		fn(recKey(ixStatus, epoch, fnv64a(st)))
	}
}

// A record's ids are stored in one of two forms. Plain: each id as a
// length byte and its bytes. Packed, when every id is a request id as the
// proxy makes them (13 base32hex characters: 48 bits of milliseconds and a
// 16-bit sequence): a 0 byte and packedIDs (a plain record starts with a
// length, never 0), the first id's 64-bit value, then each next id's
// distance from the one before as a uvarint — 1 to 3 bytes an id instead
// of 14. The records of a busy value list every trace of a batch, and
// their size was most of what writing the index cost: with one key,
// provider and model the plain records of a 2,048-trace batch were 84 KB,
// written in the same commit as the traces (and the one client's p99 fell
// by ~0.5 ms when they were cut to a few ids, issue 16).
const packedIDs = 1

// requestIDLen is the length of a request id as the proxy makes them.
const requestIDLen = 13

const base32hex = "0123456789abcdefghijklmnopqrstuv"

// idValue is the number a request id spells, false when id is not one
// (13 characters of lowercase base32hex, the first at most 'f': 65 bits
// would not fit).
func idValue(id string) (uint64, bool) {
	if len(id) != requestIDLen {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(id); i++ {
		c := id[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'v':
			d = c - 'a' + 10
		default:
			return 0, false
		}
		if i == 0 && d > 15 {
			return 0, false
		}
		v = v<<5 | uint64(d)
	}
	return v, true
}

// AppendRequestID appends the request id of unix millisecond ms and
// sequence seq: the proxy's ids (it makes them), and the form the trace
// index packs (idValue reads it back).
func AppendRequestID(dst []byte, ms int64, seq uint16) []byte {
	return appendIDText(dst, uint64(ms)<<16|uint64(seq))
}

// appendIDText appends the request id whose value is v.
func appendIDText(dst []byte, v uint64) []byte {
	var buf [requestIDLen]byte
	for i := len(buf) - 1; i >= 0; i-- {
		buf[i] = base32hex[v&31]
		v >>= 5
	}
	return append(dst, buf[:]...)
}

// encodeIDs appends the record of ids (ascending) to dst: packed when
// every id is a request id, plain otherwise.
func encodeIDs(dst []byte, ids []string) []byte {
	if len(ids) == 0 {
		return dst
	}
	start := len(dst)
	dst = append(dst, 0, packedIDs)
	var prev uint64
	for i, id := range ids {
		v, ok := idValue(id)
		if !ok || i > 0 && v < prev {
			dst = dst[:start]
			for _, id := range ids {
				dst = appendID(dst, id)
			}
			return dst
		}
		if i == 0 {
			dst = binary.BigEndian.AppendUint64(dst, v)
		} else {
			dst = binary.AppendUvarint(dst, v-prev)
		}
		prev = v
	}
	return dst
}

// parseIDs appends the ids of a record to dst (sub-slices of rec for a
// plain one, of one new buffer for a packed one); a damaged tail is left
// out.
func parseIDs(dst [][]byte, rec []byte) [][]byte {
	if packed, ok := packedRecord(rec); ok {
		return parsePacked(dst, packed)
	}
	for len(rec) > 0 {
		n := int(rec[0])
		if n == 0 || 1+n > len(rec) {
			break
		}
		dst = append(dst, rec[1:1+n])
		rec = rec[1+n:]
	}
	return dst
}

// packedRecord returns a packed record's bytes after its marker; ok is
// false for a plain record.
func packedRecord(rec []byte) (packed []byte, ok bool) {
	if len(rec) >= 2 && rec[0] == 0 && rec[1] == packedIDs {
		return rec[2:], true
	}
	return nil, false
}

func parsePacked(dst [][]byte, rec []byte) [][]byte {
	if len(rec) < 8 {
		return dst
	}
	v := binary.BigEndian.Uint64(rec)
	vals := []uint64{v}
	for rest := rec[8:]; len(rest) > 0; {
		d, n := binary.Uvarint(rest)
		if n <= 0 || v+d < v { // damaged, or past the largest id
			break
		}
		v += d
		vals = append(vals, v)
		rest = rest[n:]
	}
	text := make([]byte, 0, len(vals)*requestIDLen)
	for _, v := range vals {
		text = appendIDText(text, v)
	}
	for i := range vals {
		dst = append(dst, text[i*requestIDLen:(i+1)*requestIDLen:(i+1)*requestIDLen])
	}
	return dst
}

func appendID(dst []byte, id string) []byte {
	return append(append(dst, byte(len(id))), id...)
}

// epochOf is the epoch of request id: the last epoch starting at or before
// it (the first epoch for an id older than every epoch: a late trace of a
// pruned past). ok is false when there is no epoch yet.
func epochOf(epochs *bolt.Bucket, id []byte) (e uint32, ok bool) {
	c := epochs.Cursor()
	k, v := c.Seek(id)
	if k == nil || !bytes.Equal(k, id) {
		if k, v = c.Prev(); k == nil {
			k, v = c.First()
		}
	}
	if len(v) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

// ixWriter adds a batch of traces to the index inside a write transaction:
// add collects the ids per record, flush merges them into the records.
type ixWriter struct {
	ix, epochs *bolt.Bucket
	last       string // the newest epoch's first id
	have       bool   // there is an epoch
	lastNo     uint32
	lastN      uint64 // traces in the newest epoch
	*ixLists
	val   [12]byte
	yield func()
}

// ixLists are the ids a batch collects per index record. The trace writer
// keeps them from one batch to the next, emptied (reset), so that a busy
// gateway does not grow every record's list anew each batch: that was an
// eighth of what the gateway allocated per request.
type ixLists struct {
	recs  map[ixRecKey][]string
	spare [][]string // emptied lists of the last batch, for its records' successors
}

// Bounds on what reset keeps: a batch of unusually many distinct values
// (keys, models) or one huge batch is not kept whole.
const (
	ixKeptLists  = 64
	ixKeptLength = 4096
)

// reset empties the lists, keeping up to ixKeptLists of them, each no
// longer than ixKeptLength, for the next batch.
func (l *ixLists) reset() {
	for _, ids := range l.recs {
		if len(l.spare) < ixKeptLists && cap(ids) <= ixKeptLength {
			clear(ids) // the ids belong to traces the writer is done with
			l.spare = append(l.spare, ids[:0])
		}
	}
	if len(l.recs) > ixKeptLists {
		l.recs = nil // its table would stay as large
	}
	clear(l.recs)
}

// newIxWriter starts adding to the index in tx, collecting the ids in
// lists, which are empty (the caller resets them after tx).
func newIxWriter(tx *bolt.Tx, yield func(), lists *ixLists) *ixWriter {
	if lists.recs == nil {
		lists.recs = map[ixRecKey][]string{}
	}
	w := &ixWriter{ix: tx.Bucket(bucketTraceIndex), epochs: tx.Bucket(bucketTraceEpochs), ixLists: lists, yield: yield}
	w.epochs.FillPercent = traceFillPercent
	if k, v := w.epochs.Cursor().Last(); k != nil && len(v) >= 12 {
		w.last, w.have, w.lastNo, w.lastN = string(k), true, binary.BigEndian.Uint32(v), binary.BigEndian.Uint64(v[4:])
	}
	return w
}

// add indexes t. newest says that t's id is above every stored one, so a
// new epoch may start at it.
func (w *ixWriter) add(t *Trace, newest bool) error {
	id := t.RequestID
	if !w.have || newest && w.lastN >= epochSize && id > w.last {
		if w.have {
			w.lastNo++
		}
		w.last, w.have, w.lastN = id, true, 0
		if err := w.putLast(); err != nil { // epochOf reads it for the ids that follow
			return err
		}
	}
	e := w.lastNo
	if id >= w.last {
		w.lastN++
	} else {
		e, _ = epochOf(w.epochs, []byte(id))
	}
	eachIndexed(t, e, func(k ixRecKey) {
		ids, ok := w.recs[k]
		if !ok && len(w.spare) > 0 {
			ids, w.spare = w.spare[len(w.spare)-1], w.spare[:len(w.spare)-1]
		}
		w.recs[k] = append(ids, t.RequestID)
	})
	return nil
}

func (w *ixWriter) putLast() error {
	binary.BigEndian.PutUint32(w.val[:4], w.lastNo)
	binary.BigEndian.PutUint64(w.val[4:], w.lastN)
	return w.epochs.Put([]byte(w.last), bytes.Clone(w.val[:]))
}

// flush writes the collected ids, a record per value, and stores the
// newest epoch's count.
func (w *ixWriter) flush() error {
	keys := make([]ixRecKey, 0, len(w.recs))
	for k := range w.recs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b ixRecKey) int { return bytes.Compare(a[:], b[:]) })
	var key []byte
	for n, k := range keys {
		if n > 0 && n%YieldEvery == 0 {
			w.yield()
		}
		ids := w.recs[k]
		slices.Sort(ids)
		val := encodeIDs(make([]byte, 0, 10+3*len(ids)), ids) // bbolt keeps it until the commit
		key = append(append(key[:0], k[:]...), ids[0]...)
		if err := w.ix.Put(key, val); err != nil {
			return fmt.Errorf("trace index: %w", err)
		}
	}
	if !w.have {
		return nil
	}
	return w.putLast()
}

// indexRecords calls fn with each record of rk (every batch's).
func indexRecords(c *bolt.Cursor, rk ixRecKey, fn func(k, v []byte)) {
	for k, v := c.Seek(rk[:]); k != nil && bytes.HasPrefix(k, rk[:]); k, v = c.Next() {
		fn(k, v)
	}
}

// removeIDs deletes every id up to and including cut from the index
// records rks. Retention deletes the oldest traces — every trace up to cut
// — so an id at or before cut names a trace that is gone, and only the
// records that start at or before cut hold such ids: the walk of each
// value's records stops at the first that starts after it. A packed record
// is cut where its ids pass cut, its tail of distances kept as it is,
// without reading its ids into memory.
func removeIDs(ix *bolt.Bucket, rks map[ixRecKey]struct{}, cut []byte) error {
	cutV, cutNum := idValue(string(cut))
	after := func(v uint64) bool {
		if cutNum {
			return v > cutV
		}
		var buf [requestIDLen]byte
		return bytes.Compare(appendIDText(buf[:0], v), cut) > 0
	}
	type change struct{ old, key, val []byte }
	var changes []change
	c := ix.Cursor()
	for rk := range rks {
		for k, v := c.Seek(rk[:]); k != nil && bytes.HasPrefix(k, rk[:]) && bytes.Compare(k[ixKeyLen:], cut) <= 0; k, v = c.Next() {
			ch := change{old: bytes.Clone(k)}
			if packed, ok := packedRecord(v); ok {
				ch.key, ch.val = cutPacked(rk, packed, after)
			} else {
				var keep []string
				for _, id := range parseIDs(nil, v) {
					if bytes.Compare(id, cut) > 0 {
						keep = append(keep, string(id))
					}
				}
				if len(keep) > 0 {
					ch.key = append(append([]byte(nil), rk[:]...), keep[0]...)
					ch.val = encodeIDs(nil, keep)
				}
			}
			changes = append(changes, ch)
		}
	}
	for _, ch := range changes {
		if err := ix.Delete(ch.old); err != nil {
			return fmt.Errorf("trace index: %w", err)
		}
		if ch.key != nil {
			if err := ix.Put(ch.key, ch.val); err != nil {
				return fmt.Errorf("trace index: %w", err)
			}
		}
	}
	return nil
}

// cutPacked returns the key and value of packed record rec (after its two
// marker bytes) of rk without the ids for which after is false (a prefix:
// the ids ascend); a nil key when none is left, or when the record is
// damaged where they would start.
func cutPacked(rk ixRecKey, rec []byte, after func(uint64) bool) (key, val []byte) {
	if len(rec) < 8 {
		return nil, nil
	}
	v := binary.BigEndian.Uint64(rec)
	rest := rec[8:]
	for !after(v) {
		d, n := binary.Uvarint(rest)
		if n <= 0 || v+d < v {
			return nil, nil
		}
		v += d
		rest = rest[n:]
	}
	key = appendIDText(append(make([]byte, 0, ixKeyLen+requestIDLen), rk[:]...), v)
	val = binary.BigEndian.AppendUint64(append(make([]byte, 0, 10+len(rest)), 0, packedIDs), v)
	return key, append(val, rest...)
}

// indexQuery is one value's prefix parts.
type indexQuery struct {
	field byte
	hash  uint64
}

// indexQueries are the index values a filter can walk; none: the filter
// has no indexed field.
func indexQueries(f *TraceFilter) []indexQuery {
	var out []indexQuery
	add := func(field byte, value string) {
		if value != "" {
			out = append(out, indexQuery{field, fnv64a(value)})
		}
	}
	add(ixKey, f.KeyID)
	add(ixProvider, f.Provider)
	add(ixModel, f.Model)
	switch {
	case f.Status > 0:
		add(ixStatus, indexedStatus(f.Status))
	case f.StatusClass > 0:
		add(ixStatus, indexedStatus(f.StatusClass*100))
	}
	return out
}

// posting walks the ids of one value, newest first, epoch by epoch; id is
// the current one, nil when none is left.
type posting struct {
	q      indexQuery
	c      *bolt.Cursor // over the index
	epochs *bolt.Bucket
	first  uint32 // the oldest epoch
	e      uint32 // the epoch of ids
	loaded bool
	ids    [][]byte // epoch e's record
	i      int
	id     []byte
}

// find moves to the newest id in epoch e or older that is below bound (at
// most bound when inclusive; bound nil: any id of epoch e).
func (p *posting) find(e uint32, bound []byte, inclusive bool) {
	for {
		if !p.loaded || p.e != e {
			p.e, p.loaded, p.ids = e, true, p.ids[:0]
			indexRecords(p.c, recKey(p.q.field, e, p.q.hash), func(_, v []byte) { p.ids = parseIDs(p.ids, v) })
			// Records are in the order of their first ids; a late trace's
			// batch may interleave with the ones before.
			if !slices.IsSortedFunc(p.ids, bytes.Compare) {
				slices.SortFunc(p.ids, bytes.Compare)
			}
		}
		i := len(p.ids) - 1
		if bound != nil {
			i = sort.Search(len(p.ids), func(j int) bool {
				c := bytes.Compare(p.ids[j], bound)
				return c > 0 || c == 0 && !inclusive
			}) - 1
		}
		if i >= 0 {
			p.i, p.id = i, p.ids[i]
			return
		}
		if e <= p.first {
			p.id = nil
			return
		}
		e, bound = e-1, nil
	}
}

// below moves to the newest id < before (before nil: the newest).
func (p *posting) below(before []byte, last uint32) {
	e := last
	if before != nil {
		e, _ = epochOf(p.epochs, before)
	}
	p.find(e, before, false)
}

// atMost moves to the newest id ≤ id (≤ the current one).
func (p *posting) atMost(id []byte) {
	e, _ := epochOf(p.epochs, id)
	p.find(min(e, p.e), id, true)
}

func (p *posting) prev() {
	if p.i > 0 {
		p.i--
		p.id = p.ids[p.i]
		return
	}
	if p.e <= p.first {
		p.id = nil
		return
	}
	p.find(p.e-1, nil, false)
}

// indexedTraces is Traces through the index: it walks the postings of
// queries together (newest first, from before) and calls fn with each
// request id that all of them hold, until fn says stop.
func indexedTraces(tx *bolt.Tx, queries []indexQuery, before string, fn func(id []byte) (stop bool, err error)) error {
	epochs := tx.Bucket(bucketTraceEpochs)
	fk, fv := epochs.Cursor().First()
	lk, lv := epochs.Cursor().Last()
	if fk == nil || lk == nil || len(fv) < 4 || len(lv) < 4 {
		return nil // nothing indexed: no trace
	}
	first, last := binary.BigEndian.Uint32(fv), binary.BigEndian.Uint32(lv)
	ps := make([]posting, len(queries))
	var start []byte
	if before != "" {
		start = []byte(before)
	}
	for i := range ps {
		ps[i] = posting{q: queries[i], c: tx.Bucket(bucketTraceIndex).Cursor(), epochs: epochs, first: first}
		ps[i].below(start, last)
	}
	for {
		// The oldest of the current ids is the newest that all may hold.
		var low []byte
		for i := range ps {
			if ps[i].id == nil {
				return nil
			}
			if low == nil || bytes.Compare(ps[i].id, low) < 0 {
				low = ps[i].id
			}
		}
		all := true
		for i := range ps {
			if !bytes.Equal(ps[i].id, low) {
				all = false
				ps[i].atMost(low)
			}
		}
		if !all {
			continue
		}
		if stop, err := fn(low); err != nil || stop {
			return err
		}
		for i := range ps {
			ps[i].prev()
		}
	}
}

// pruneEpochs deletes the epochs older than the oldest stored trace's:
// their traces and records are gone.
func pruneEpochs(tx *bolt.Tx) error {
	oldest, _ := tx.Bucket(bucketTraces).Cursor().First()
	epochs := tx.Bucket(bucketTraceEpochs)
	for {
		c := epochs.Cursor()
		k, _ := c.First()
		next, _ := c.Next()
		if k == nil || next == nil || oldest != nil && bytes.Compare(next, oldest) > 0 {
			return nil
		}
		if err := epochs.Delete(bytes.Clone(k)); err != nil {
			return err
		}
	}
}

// migrateV5 creates the trace index and marks it as to be built for the
// traces already stored: Open then builds it in batches (buildTraceIndex),
// so that a file of millions of traces is not indexed in one transaction.
func migrateV5(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketTraceIndex, bucketTraceEpochs} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(metaTraceIndexFrom, []byte{})
}

// buildIndexBatch is how many stored traces buildTraceIndex indexes per
// transaction (a variable for tests).
var buildIndexBatch = 20_000

// buildTraceIndex indexes the traces stored before the index existed, a
// batch per transaction, from where the last batch (of this or an earlier,
// interrupted, run) stopped; it is done when metaTraceIndexFrom is gone.
// Open runs it before anything else reads or writes the traces.
func (s *Store) buildTraceIndex() error {
	for {
		done := false
		err := s.db.Update(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			from := meta.Get(metaTraceIndexFrom)
			if from == nil {
				done = true
				return nil
			}
			w := newIxWriter(tx, func() {}, &ixLists{})
			c := tx.Bucket(bucketTraces).Cursor()
			n := 0
			k, v := c.Seek(from)
			for ; k != nil && n < buildIndexBatch; k, v = c.Next() {
				// A damaged trace is left out (Traces fails on it as before)
				// rather than keeping the gateway from starting.
				var t Trace
				if decodeTrace(v, &t) == nil {
					t.RequestID = string(k) // the key is what the index points to
					if err := w.add(&t, true); err != nil {
						return err
					}
				}
				n++
			}
			if err := w.flush(); err != nil {
				return err
			}
			if k == nil {
				done = true
				return meta.Delete(metaTraceIndexFrom)
			}
			return meta.Put(metaTraceIndexFrom, bytes.Clone(k))
		})
		s.unmapPages()
		if err != nil {
			return fmt.Errorf("build the trace index: %w", err)
		}
		if done {
			return nil
		}
	}
}

// traceIndexReady reports whether the index covers every stored trace.
func traceIndexReady(tx *bolt.Tx) bool {
	return tx.Bucket(bucketTraceEpochs) != nil && tx.Bucket(bucketMeta).Get(metaTraceIndexFrom) == nil
}
