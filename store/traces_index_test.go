package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// smallEpochs makes epochs of 40 traces for the test, so that a few
// thousand traces span many.
func smallEpochs(t *testing.T) {
	defer func(n uint64) { t.Cleanup(func() { epochSize = n }) }(epochSize)
	epochSize = 40
}

// mixedTraces are n traces a minute apart over 5 keys, 3 providers, 4
// models (one with a NUL, one 300 bytes long: the client names the model)
// and statuses 200, 0, 429, 499, 503, 302; written in batches of about 97,
// one in 31 of them (a long request) a few batches late.
func mixedTraces(t testing.TB, s *Store, n int, seed uint64) []*Trace {
	t.Helper()
	return mixedTracesFrom(t, s, 0, n, seed)
}

// mixedTracesFrom is mixedTraces starting from minute from.
func mixedTracesFrom(t testing.TB, s *Store, from, n int, seed uint64) []*Trace {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	models := []string{"gpt-4o", "claude\x00x", strings.Repeat("m", 300), "m"}
	var all, batch, late []*Trace
	for i := range n {
		st := []int{200, 200, 200, 200, 0, 429, 499, 503, 302}[rng.IntN(9)]
		tc := tr(t0.Add(time.Duration(from+i)*time.Minute), fmt.Sprintf("key_%d", rng.IntN(5)),
			[]string{"openai", "anthropic", "gemini"}[rng.IntN(3)], models[rng.IntN(len(models))], st)
		if i%50 == 7 {
			tc.KeyID = "" // a refused request without a key
		}
		all = append(all, tc)
		if i%31 == 5 { // finishes late: written three batches on
			late = append(late, tc)
		} else {
			batch = append(batch, tc)
		}
		if len(batch) >= 97 || i == n-1 {
			if i == n-1 || len(late) > 9 {
				batch, late = append(batch, late...), nil
			}
			write(t, s, batch...)
			batch = nil
		}
	}
	return all
}

// wantTraces is what Traces must list for f: every stored trace that
// matches, newest first, checked field by field here.
func wantTraces(all []*Trace, f TraceFilter) []string {
	var out []string
	for _, t := range slices.Backward(all) {
		switch {
		case f.KeyID != "" && t.KeyID != f.KeyID, f.Provider != "" && t.Provider != f.Provider,
			f.Model != "" && t.Model != f.Model, f.Status > 0 && t.Status != f.Status,
			f.StatusClass > 0 && t.Status/100 != f.StatusClass,
			!f.Since.IsZero() && t.Time.Before(f.Since), !f.Until.IsZero() && !t.Time.Before(f.Until),
			f.Before != "" && t.RequestID >= f.Before:
			continue
		}
		out = append(out, t.RequestID)
	}
	return out
}

func listAll(t *testing.T, s *Store, f TraceFilter) []string {
	t.Helper()
	var out []string
	for _, p := range pages(t, s, f) {
		out = append(out, ids(p)...)
	}
	return out
}

// traceFilters are filters over mixedTraces: each indexed field alone,
// together, with the ones that are not indexed, and with time bounds.
func traceFilters(all []*Trace) []TraceFilter {
	mid := all[len(all)/2]
	return []TraceFilter{
		{KeyID: "key_3"}, {KeyID: "key_none"}, {Provider: "gemini"}, {Model: "claude\x00x"}, {Model: "claude"},
		{Model: strings.Repeat("m", 300)}, {Model: "m"}, {StatusClass: 5}, {StatusClass: 4}, {StatusClass: 3},
		{StatusClass: 2}, {Status: 429}, {Status: 503, KeyID: "key_1"}, {StatusClass: 4, Provider: "openai", Model: "gpt-4o"},
		{KeyID: "key_2", Provider: "anthropic"}, {KeyID: "key_0", Model: "m", StatusClass: 2},
		{KeyID: "key_4", Since: t0.Add(100 * time.Minute), Until: t0.Add(900 * time.Minute)},
		{StatusClass: 5, Before: mid.RequestID}, {Provider: "openai", Before: mid.RequestID, Since: t0.Add(200 * time.Minute)},
	}
}

// The index answers exactly what a walk over every trace would: for each
// filter, every page of the listing together is the matching traces,
// newest first — at several page sizes, so pages start inside the index.
func TestTracesThroughIndexMatchEveryTrace(t *testing.T) {
	smallEpochs(t)
	s := openTest(t)
	all := mixedTraces(t, s, 1500, 1)
	for _, f := range traceFilters(all) {
		want := wantTraces(all, f)
		if len(want) == 0 && f.KeyID != "key_none" && f.Model != "claude" {
			t.Errorf("%+v: the data has no match; the test would prove nothing", f)
		}
		for _, limit := range []int{1, 7, 100, 10000} {
			f.Limit = limit
			if got := listAll(t, s, f); !slices.Equal(got, want) {
				t.Errorf("%+v: listed %d traces; want %d (first %v, want %v)", f, len(got), len(want), head(got), head(want))
			}
		}
	}
	checkTraceIndex(t, s)
}

func head(s []string) []string { return s[:min(len(s), 3)] }

// checkTraceIndex checks that the index holds the ids of every stored
// trace under each of its values, in ascending order, and nothing else.
func checkTraceIndex(t testing.TB, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		want := map[string]bool{} // record key + id
		err := tx.Bucket(bucketTraces).ForEach(func(k, v []byte) error {
			var tc Trace
			if err := decodeTrace(v, &tc); err != nil {
				return err
			}
			e, ok := epochOf(tx.Bucket(bucketTraceEpochs), k)
			if !ok {
				t.Errorf("trace %s has no epoch", k)
			}
			eachIndexed(&tc, e, func(rk ixRecKey) { want[string(rk[:])+string(k)] = true })
			return nil
		})
		if err != nil {
			return err
		}
		n := 0
		err = tx.Bucket(bucketTraceIndex).ForEach(func(k, v []byte) error {
			ids := parseIDs(nil, v)
			whole := bytes.Equal(encodeIDs(nil, idStrings(ids)), v) || bytes.Equal(plainIDs(ids), v) // packed, or plain from before
			if len(ids) == 0 || !whole || !bytes.Equal(k[ixKeyLen:], ids[0]) {
				t.Errorf("index record %x: %d ids in %d bytes", k, len(ids), len(v))
				return nil
			}
			for i, id := range ids {
				n++
				if !want[string(k[:ixKeyLen])+string(id)] {
					t.Errorf("index record %x holds %q, of no stored trace with that value", k, id)
				}
				if i > 0 && bytes.Compare(ids[i-1], id) >= 0 {
					t.Errorf("index record %x: %q after %q", k, id, ids[i-1])
				}
			}
			return nil
		})
		if n != len(want) {
			t.Errorf("index holds %d ids; want %d (the stored traces')", n, len(want))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Retention deletes a trace's index entries with it: what is left lists
// exactly the kept traces, and the index holds nothing of the pruned ones.
func TestPruneTracesDeletesIndexEntries(t *testing.T) {
	smallEpochs(t)
	s := openTest(t)
	all := mixedTraces(t, s, 3000, 2)
	n, err := s.PruneTraces(t0.Add(1000*time.Minute), 1500, 100)
	if err != nil || n != 1500 {
		t.Fatalf("PruneTraces = %d, %v; want 1500", n, err)
	}
	kept := all[1500:]
	// A request older than every kept trace finishes now: it is listed too.
	old := tr(t0.Add(-time.Hour), "key_1", "gemini", "m", 503)
	write(t, s, old)
	kept = append([]*Trace{old}, kept...)
	checkListings(t, s, kept, "after the prune")
	checkTraceIndex(t, s)
}

// checkListings checks that every filter of traceFilters lists exactly the
// traces of all that match it (when says at what point of the test).
func checkListings(t *testing.T, s *Store, all []*Trace, when string) {
	t.Helper()
	for _, f := range traceFilters(all) {
		f.Limit = 10000
		if got, want := listAll(t, s, f), wantTraces(all, f); !slices.Equal(got, want) {
			t.Errorf("%+v %s: listed %d traces; want %d", f, when, len(got), len(want))
		}
	}
}

// A file written before the index existed (schema v3, traces stored
// without index entries) is indexed when it is opened — in several
// transactions — and its traces list by key, status, provider and model.
func TestMigrateV5IndexesStoredTraces(t *testing.T) {
	smallEpochs(t)
	defer func(n int) { buildIndexBatch = n }(buildIndexBatch)
	buildIndexBatch = 64 // 1000 traces: 16 transactions
	scratch := openTest(t)
	all := mixedTraces(t, scratch, 1000, 3)
	path := writeV1(t, func(tx *bolt.Tx) error {
		for _, tc := range all {
			if err := tx.Bucket(bucketTraces).Put([]byte(tc.RequestID), appendTrace(nil, tc)); err != nil {
				return err
			}
		}
		return nil
	})
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(db, migrations[:3]); err != nil { // up to v3: no index
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(path, testKey, Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("Open of a v3 file with traces: %v", err)
	}
	defer s.Close()
	before := txID(t, s)
	for _, f := range traceFilters(all) {
		f.Limit = 100
		if got, want := listAll(t, s, f), wantTraces(all, f); !slices.Equal(got, want) {
			t.Errorf("%+v after the migration: listed %d traces; want %d", f, len(got), len(want))
		}
	}
	checkTraceIndex(t, s)
	err = s.db.View(func(tx *bolt.Tx) error {
		if !traceIndexReady(tx) {
			t.Error("the index is still marked as being built")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if txID(t, s) != before {
		t.Error("listing wrote to the file")
	}
}

// An index build that stopped part way (the process ended) continues from
// where it stopped when the file is opened again.
func TestTraceIndexBuildResumes(t *testing.T) {
	smallEpochs(t)
	s := openTest(t)
	all := mixedTraces(t, s, 500, 4)
	// Undo the index of the traces from the 200th on and mark the build
	// as stopped there, as an interrupted build leaves it.
	mid := []byte(all[200].RequestID)
	err := s.db.Update(func(tx *bolt.Tx) error {
		ix := tx.Bucket(bucketTraceIndex)
		recs := map[string][]byte{}
		_ = ix.ForEach(func(k, v []byte) error {
			var out []byte
			for _, id := range parseIDs(nil, v) {
				if bytes.Compare(id, mid) < 0 {
					out = appendID(out, string(id))
				}
			}
			recs[string(k)] = out
			return nil
		})
		for k, v := range recs {
			var err error
			if len(v) == 0 {
				err = ix.Delete([]byte(k))
			} else {
				err = ix.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaTraceIndexFrom, mid)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Until it is built, filters walk the traces (and still answer right).
	f := TraceFilter{KeyID: "key_1", Limit: 10000}
	if got, want := listAll(t, s, f), wantTraces(all, f); !slices.Equal(got, want) {
		t.Fatalf("during the build: listed %d; want %d", len(got), len(want))
	}
	if err := s.buildTraceIndex(); err != nil {
		t.Fatal(err)
	}
	checkTraceIndex(t, s)
	if got, want := listAll(t, s, f), wantTraces(all, f); !slices.Equal(got, want) {
		t.Fatalf("after the build: listed %d; want %d", len(got), len(want))
	}
}

// A filtered listing reads its matches, not the traces between them: a
// damaged record among the other traces fails a walk over every trace, but
// not the listing of a key, status or model that it is not indexed under.
func TestIndexedListingReadsOnlyItsMatches(t *testing.T) {
	smallEpochs(t) // most epochs have no entry of the rare status
	s := openTest(t)
	var batch []*Trace
	for i := range 2000 {
		tc := tr(t0.Add(time.Duration(i)*time.Second), "key_common", "openai", "gpt-4o", 200)
		if i%200 == 0 {
			tc.KeyID, tc.Model, tc.Status = "key_rare", "o1", 503
		}
		batch = append(batch, tc)
	}
	write(t, s, batch...)
	err := s.db.Update(func(tx *bolt.Tx) error { // between the newest matches
		return tx.Bucket(bucketTraces).Put([]byte(reqID(t0.Add(1900*time.Second), 1)), []byte{traceCodecV3, 1, 2})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Traces(TraceFilter{StatusClass: 2}); err == nil { // 2xx: not indexed
		t.Fatal("a walk over the damaged record did not fail; the test would prove nothing")
	}
	for _, f := range []TraceFilter{{KeyID: "key_rare"}, {StatusClass: 5}, {Status: 503, Model: "o1"}} {
		got, next, err := s.Traces(f)
		if err != nil || len(got) != 10 || next != "" {
			t.Errorf("Traces(%+v) = %d traces, next %q, %v; want the 10 matches", f, len(got), next, err)
		}
	}
}

// plainIDs is the plain form of a record of ids.
func plainIDs(ids [][]byte) []byte {
	var out []byte
	for _, id := range ids {
		out = appendID(out, string(id))
	}
	return out
}

func idStrings(ids [][]byte) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

// The index's records are read back from the file: whatever their bytes,
// parseIDs returns non-empty ids; a plain record's are consecutive pieces
// of it (re-encoding them gives back the record up to where it stopped), a
// packed record's are request ids in ascending order, at most one per byte.
func FuzzParseIDs(f *testing.F) {
	f.Add(appendID(appendID(nil, "0abc"), "0abd"))
	f.Add(encodeIDs(nil, []string{"038gl0c9q6skp", "038gl0c9q6skq", "038gl0d000000"}))
	f.Add([]byte{0})
	f.Add([]byte{0, packedIDs, 1, 2, 3})
	f.Add([]byte{0, packedIDs, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0, 0xff, 0xff, 0x7f})
	f.Add([]byte{5, 'a'})
	f.Fuzz(func(t *testing.T, rec []byte) {
		ids := parseIDs(nil, rec)
		if len(rec) >= 2 && rec[0] == 0 && rec[1] == packedIDs {
			if len(ids) > max(0, len(rec)-9) {
				t.Fatalf("%d ids from a packed record of %d bytes", len(ids), len(rec))
			}
			for i, id := range ids {
				if _, ok := idValue(string(id)); !ok {
					t.Fatalf("packed id %q is not a request id", id)
				}
				if i > 0 && bytes.Compare(ids[i-1], id) > 0 {
					t.Fatalf("packed ids out of order: %q after %q", id, ids[i-1])
				}
			}
			return
		}
		var again []byte
		for _, id := range ids {
			if len(id) == 0 {
				t.Fatal("an empty id")
			}
			again = appendID(again, string(id))
		}
		if !bytes.HasPrefix(rec, again) {
			t.Fatalf("re-encoded %x is not a prefix of %x", again, rec)
		}
	})
}

// Request ids are packed as numbers, a few bytes each, and read back the
// same; anything else (hand-made ids in a test or an old file, ids out of
// order) is kept in the plain form and read back the same too.
func TestIndexRecordsPackRequestIDs(t *testing.T) {
	if v, ok := idValue("0000000000001"); !ok || v != 1 {
		t.Errorf("idValue(0000000000001) = %d, %v", v, ok)
	}
	if v, ok := idValue("fvvvvvvvvvvvv"); !ok || v != math.MaxUint64 {
		t.Errorf("idValue(fvvvvvvvvvvvv) = %x, %v; want the largest", v, ok)
	}
	for _, bad := range []string{"", "a", "038gl0c9q6sk", "038gl0c9q6skpp", "038GL0C9Q6SKP", "g000000000000", "038gl0c9q6sk-", "038gl0c9q6skw"} {
		if _, ok := idValue(bad); ok {
			t.Errorf("idValue(%q) accepted", bad)
		}
	}
	// A busy value's record: a 2,048-trace batch over a second.
	var ids []string
	for i := range 2048 {
		ids = append(ids, reqID(t0.Add(time.Duration(i)*time.Second/2048), uint16(40000+i)))
	}
	rec := encodeIDs(nil, ids)
	if rec[0] != 0 || rec[1] != packedIDs {
		t.Fatalf("request ids not packed: % x…", rec[:4])
	}
	if plain := len(ids) * (1 + requestIDLen); len(rec) > plain/4 {
		t.Errorf("%d ids packed in %d bytes; want at most a quarter of the plain %d", len(ids), len(rec), plain)
	}
	if got := idStrings(parseIDs(nil, rec)); !slices.Equal(got, ids) {
		t.Errorf("packed ids read back as %d ids, first %v; want %d, first %v", len(got), head(got), len(ids), head(ids))
	}
	for _, plain := range [][]string{
		{"r1", "r2"},
		{"038gl0c9q6skq", "038gl0c9q6skp"}, // descending
		{"038gl0c9q6skp", "not-an-id"},
	} {
		rec := encodeIDs(nil, plain)
		if rec[0] != byte(len(plain[0])) {
			t.Errorf("%q: record starts % x; want the plain form", plain, rec[:2])
		}
		if got := idStrings(parseIDs(nil, rec)); !slices.Equal(got, plain) {
			t.Errorf("%q read back as %q", plain, got)
		}
	}
	if rec := encodeIDs([]byte("x"), nil); string(rec) != "x" {
		t.Errorf("no ids appended %q", rec)
	}
}

// A file whose index records are in the plain form (written before ids
// were packed) lists and prunes as before, beside the packed records new
// batches write; a pruned plain record is written back packed.
func TestPlainIndexRecordsStillRead(t *testing.T) {
	smallEpochs(t)
	s := openTest(t)
	all := mixedTraces(t, s, 1500, 3)
	err := s.db.Update(func(tx *bolt.Tx) error {
		ix := tx.Bucket(bucketTraceIndex)
		type rec struct{ k, v []byte }
		var recs []rec
		if err := ix.ForEach(func(k, v []byte) error {
			recs = append(recs, rec{bytes.Clone(k), plainIDs(parseIDs(nil, v))})
			return nil
		}); err != nil {
			return err
		}
		for _, r := range recs {
			if err := ix.Put(r.k, r.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, mixedTracesFrom(t, s, 1500, 1500, 4)...)
	checkListings(t, s, all, "with plain and packed records")
	if n, err := s.PruneTraces(time.Time{}, 1000, 100); err != nil || n != 2000 {
		t.Fatalf("PruneTraces = %d, %v; want 2000", n, err)
	}
	checkListings(t, s, all[2000:], "after pruning plain records")
	checkTraceIndex(t, s)
}

// A batch whose traces hold many distinct values also yields while their
// index records are written: every YieldEvery records.
func TestWriteTracesYieldsWhileIndexing(t *testing.T) {
	yields := 0
	s, err := Open(t.TempDir()+"/aigw.db", testKey, Options{LockTimeout: time.Second, Yield: func() { yields++ }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 5*YieldEvery + 1
	var batch []*Trace
	for i := range n {
		batch = append(batch, tr(t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("key_%03d", i), "openai", "gpt-4o", 200))
	}
	write(t, s, batch...)
	// 5 while encoding, 5 while storing, 5 while writing the 163 records
	// (161 keys, a provider, a model).
	if yields != 15 {
		t.Errorf("%d yields; want 15", yields)
	}
	if got, _, err := s.Traces(TraceFilter{KeyID: "key_160"}); err != nil || len(got) != 1 {
		t.Fatalf("Traces(key_160) = %d, %v", len(got), err)
	}
}

// Traces whose ids are not the proxy's (kept in plain records) are pruned
// from the index by their ids' order as text, like the proxy's by number.
func TestPruneTracesCutsRecordsOfOtherIDs(t *testing.T) {
	smallEpochs(t)
	s := openTest(t)
	var all []*Trace
	for i := range 3000 {
		tc := tr(t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("key_%d", i%3), "openai", "gpt-4o", []int{200, 503}[i%2])
		tc.RequestID = fmt.Sprintf("imported-%06d", i)
		all = append(all, tc)
	}
	for i := 0; i < len(all); i += 500 {
		write(t, s, all[i:i+500]...)
	}
	if n, err := s.PruneTraces(time.Time{}, 1000, 300); err != nil || n != 2000 {
		t.Fatalf("PruneTraces = %d, %v; want 2000", n, err)
	}
	checkListings(t, s, all[2000:], "after pruning")
	checkTraceIndex(t, s)
}

// Traces stored as JSON by earlier builds are pruned from the index like
// binary ones.
func TestPruneTracesReadsLegacyJSONTraces(t *testing.T) {
	smallEpochs(t)
	s := openTest(t)
	var all []*Trace
	for i := range 1000 {
		key := "key_1"
		if i%3 == 0 {
			key = fmt.Sprintf("json_key_%d", i) // a record that only this (JSON) trace hits
		}
		all = append(all, tr(t0.Add(time.Duration(i)*time.Second), key, "openai", "gpt-4o", 200))
	}
	for i := 0; i < len(all); i += 100 {
		write(t, s, all[i:i+100]...)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTraces)
		for i, tc := range all {
			if i%3 == 0 {
				legacy, err := json.Marshal(tc)
				if err != nil {
					return err
				}
				if err := b.Put([]byte(tc.RequestID), legacy); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneTraces(time.Time{}, 400, 50); err != nil || n != 600 {
		t.Fatalf("PruneTraces = %d, %v; want 600", n, err)
	}
	checkListings(t, s, all[600:], "after pruning JSON and binary traces")
	checkTraceIndex(t, s)
}

// TestTraceIndexListsAreEmptiedBetweenBatches writes batches whose values
// change from one to the next — one key, then another, then more values
// than the writer keeps lists for, then a huge batch — so that every list
// the writer reuses once held another value's ids: each filter still finds
// exactly its traces.
func TestTraceIndexListsAreEmptiedBetweenBatches(t *testing.T) {
	s := openTest(t)
	want := map[string][]string{} // key → ids, newest first
	tm := t0
	write := func(keys []string, n int) {
		t.Helper()
		batch := make([]*Trace, n)
		for i := range batch {
			tm = tm.Add(time.Millisecond)
			k := keys[i%len(keys)]
			batch[i] = tr(tm, k, "openai", "gpt-4o", 200)
			want[k] = append([]string{batch[i].RequestID}, want[k]...)
		}
		if err := s.WriteTraces(batch); err != nil {
			t.Fatal(err)
		}
	}
	many := make([]string, ixKeptLists+10)
	for i := range many {
		many[i] = fmt.Sprintf("key_many_%03d", i)
	}
	write([]string{"key_a"}, 40)
	write([]string{"key_b"}, 3)
	write(many, 2*len(many))
	write([]string{"key_c", "key_a"}, 30)
	write([]string{"key_d"}, ixKeptLength+5) // a list longer than the writer keeps
	write([]string{"key_b"}, 2)
	for k, ids := range want {
		got, _, err := s.Traces(TraceFilter{KeyID: k, Limit: maxTraceLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ids) {
			t.Fatalf("--key %s: %d traces; want %d", k, len(got), len(ids))
		}
		for i := range got {
			if got[i].RequestID != ids[i] || got[i].KeyID != k {
				t.Fatalf("--key %s: trace %d is %s of %s; want %s", k, i, got[i].RequestID, got[i].KeyID, ids[i])
			}
		}
	}
	checkTraceIndex(t, s)
}
