package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The trace index lets a filtered listing read only the traces it may
// return: without it, a filter that matches one trace in ten thousand walks
// the whole traces bucket. One bucket holds an entry per trace and indexed
// field, written in WriteTraces' transaction and deleted with the trace by
// PruneTraces:
//
//	key:   field (1 byte) · FNV-1a 64 of the value (8 bytes, big endian) · request id
//	value: empty
//
// so the entries of one value are contiguous and in request id (= time)
// order, and Traces walks them backwards from its cursor. The value is
// hashed so that every entry has the same short fixed prefix whatever the
// client put in a model name (length, NUL bytes); a hash collision only
// adds candidates, and every candidate is checked on the trace itself.
//
// Indexed: the key id, the provider and the model (when set), and the
// status class of statuses outside 2xx (most traces are 2xx: a listing of
// those finds its page by walking the traces). A filter on several indexed
// fields walks their entries together and reads only the ids all of them
// hold.

var bucketTraceIndex = []byte("trace_index")

// metaTraceIndexFrom, while present, says the index is still being built
// for the traces stored before it existed: its value is the request id to
// continue from (buildTraceIndex).
var metaTraceIndexFrom = []byte("trace_index_from")

// Index fields: the first byte of an entry's key.
const (
	ixKey      = 'k'
	ixProvider = 'p'
	ixModel    = 'm'
	ixStatus   = 's' // the status class, as one digit
)

const ixPrefixLen = 1 + 8

// ixEmpty is every entry's value (bbolt keeps values until the commit).
var ixEmpty = []byte{}

// fnv64a is FNV-1a (64 bit) of s: stable across builds and processes.
func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func appendIxPrefix(dst []byte, field byte, value string) []byte {
	return binary.BigEndian.AppendUint64(append(dst, field), fnv64a(value))
}

// indexedStatus is the class digit indexed for status ("" for 2xx and
// statuses outside 100..599, which are not indexed).
func indexedStatus(status int) string {
	if status < 100 || status > 599 || status/100 == 2 {
		return ""
	}
	return string(rune('0' + status/100))
}

// appendIndexKeys appends t's index keys to dst, each as a length byte and
// the key (a request id is at most maxRequestIDLen bytes).
func appendIndexKeys(dst []byte, t *Trace) []byte {
	for _, f := range [...]struct {
		field byte
		value string
	}{{ixKey, t.KeyID}, {ixProvider, t.Provider}, {ixModel, t.Model}, {ixStatus, indexedStatus(t.Status)}} {
		if f.value == "" {
			continue
		}
		dst = append(dst, byte(ixPrefixLen+len(t.RequestID)))
		dst = appendIxPrefix(dst, f.field, f.value)
		dst = append(dst, t.RequestID...)
	}
	return dst
}

// eachIndexKey calls fn with every key in a buffer of appendIndexKeys.
func eachIndexKey(buf []byte, fn func(k []byte) error) error {
	for len(buf) > 0 {
		n := int(buf[0])
		if err := fn(buf[1 : 1+n]); err != nil {
			return err
		}
		buf = buf[1+n:]
	}
	return nil
}

// putIndex adds the index entries of the traces in keys (appendIndexKeys).
func putIndex(b *bolt.Bucket, keys []byte) error {
	return eachIndexKey(keys, func(k []byte) error {
		if err := b.Put(k, ixEmpty); err != nil {
			return fmt.Errorf("index trace %s: %w", k[ixPrefixLen:], err)
		}
		return nil
	})
}

// indexPrefixes are the index prefixes a filter can walk; none: the
// filter has no indexed field.
func indexPrefixes(f *TraceFilter) [][]byte {
	var out [][]byte
	add := func(field byte, value string) {
		if value != "" {
			out = append(out, appendIxPrefix(nil, field, value))
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

// posting walks the index entries under one prefix, newest first; id is
// the current entry's request id, nil when none is left.
type posting struct {
	c      *bolt.Cursor
	prefix []byte
	id     []byte
	seek   []byte
}

func (p *posting) set(k []byte) {
	if k != nil && len(k) > ixPrefixLen && bytes.HasPrefix(k, p.prefix) {
		p.id = k[ixPrefixLen:]
	} else {
		p.id = nil
	}
}

// below moves to the newest entry with an id < before (before nil: the newest).
func (p *posting) below(before []byte) {
	p.seek = append(append(p.seek[:0], p.prefix...), before...)
	if before == nil { // past every id under the prefix: ids are at most maxRequestIDLen bytes
		p.seek = append(p.seek, bytes.Repeat([]byte{0xff}, maxRequestIDLen+1)...)
	}
	k, _ := p.c.Seek(p.seek)
	if k == nil {
		k, _ = p.c.Last()
	} else {
		k, _ = p.c.Prev()
	}
	p.set(k)
}

// atMost moves to the newest entry with an id ≤ id.
func (p *posting) atMost(id []byte) {
	p.seek = append(append(p.seek[:0], p.prefix...), id...)
	k, _ := p.c.Seek(p.seek)
	if k != nil && bytes.Equal(k, p.seek) {
		p.set(k)
		return
	}
	if k == nil {
		k, _ = p.c.Last()
	} else {
		k, _ = p.c.Prev()
	}
	p.set(k)
}

func (p *posting) prev() {
	k, _ := p.c.Prev()
	p.set(k)
}

// indexedTraces is Traces through the index: it walks the postings of
// prefixes together (newest first, from f.Before) and calls fn with each
// request id that all of them hold, until fn says stop.
func indexedTraces(tx *bolt.Tx, prefixes [][]byte, before string, fn func(id []byte) (stop bool, err error)) error {
	ps := make([]posting, len(prefixes))
	var start []byte
	if before != "" {
		start = []byte(before)
	}
	for i := range ps {
		ps[i] = posting{c: tx.Bucket(bucketTraceIndex).Cursor(), prefix: prefixes[i]}
		ps[i].below(start)
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

// migrateV5 creates the trace index and marks it as to be built for the
// traces already stored: Open then builds it in batches (buildTraceIndex),
// so that a file of millions of traces is not indexed in one transaction.
func migrateV5(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketTraceIndex); err != nil {
		return err
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
			ix := tx.Bucket(bucketTraceIndex)
			ix.FillPercent = traceFillPercent
			c := tx.Bucket(bucketTraces).Cursor()
			var keys []byte
			n := 0
			k, v := c.Seek(from)
			for ; k != nil && n < buildIndexBatch; k, v = c.Next() {
				// A damaged trace is left out (Traces fails on it as before)
				// rather than keeping the gateway from starting.
				var t Trace
				if decodeTrace(v, &t) == nil {
					t.RequestID = string(k) // the key is what the index points to
					keys = appendIndexKeys(keys, &t)
				}
				n++
			}
			if err := putIndex(ix, keys); err != nil {
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
	return tx.Bucket(bucketTraceIndex) != nil && tx.Bucket(bucketMeta).Get(metaTraceIndexFrom) == nil
}
