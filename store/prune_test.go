package store

import (
	"reflect"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writeMinutes stores n traces, one a minute from t0, in batches of 5000,
// and returns their ids, oldest first.
func writeMinutes(t testing.TB, s *Store, n int) []string {
	t.Helper()
	var all []string
	for start := 0; start < n; start += 5000 {
		var batch []*Trace
		for i := start; i < min(n, start+5000); i++ {
			tc := tr(t0.Add(time.Duration(i)*time.Minute), []string{"key_a", "key_b"}[i%2], "openai", "gpt-4o", 200)
			batch = append(batch, tc)
			all = append(all, tc.RequestID)
		}
		write(t, s, batch...)
	}
	return all
}

// txID is the id of the last committed write transaction.
func txID(t testing.TB, s *Store) int {
	var id int
	_ = s.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
	return id
}

func storedIDs(t testing.TB, s *Store) []string {
	t.Helper()
	got, _, err := s.Traces(TraceFilter{Limit: maxTraceLimit})
	if err != nil {
		t.Fatal(err)
	}
	out := ids(got)
	slices.Reverse(out)
	return out
}

func TestPruneTraces(t *testing.T) {
	m := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	tests := []struct {
		name      string
		n         int
		olderThan time.Time
		maxCount  uint64
		maxDelete int
		keepFrom  int // the oldest trace kept (all newer ones are kept too)
		wantTxs   int // write transactions committed
	}{
		{"by age", 10, m(4), 0, 0, 4, 1},
		{"by age, in another zone", 10, m(4).In(time.FixedZone("UTC-5", -5*3600)), 0, 0, 4, 1},
		{"by age: exactly at the bound is kept", 10, m(0), 0, 0, 0, 0},
		{"by age: everything", 10, m(60), 0, 0, 10, 1},
		{"by count", 10, time.Time{}, 3, 0, 7, 1},
		{"by count: under the limit", 10, time.Time{}, 10, 0, 0, 0},
		{"age first, then count", 10, m(2), 5, 0, 5, 1},
		{"count first, then age", 10, m(8), 5, 0, 8, 1},
		{"no limits", 10, time.Time{}, 0, 0, 0, 0},
		{"2500 with maxDelete 1000: 3 transactions", 2600, time.Time{}, 100, 1000, 2500, 3},
		{"2000 with maxDelete 1000: 2 transactions", 2100, m(2000), 0, 1000, 2000, 2},
		{"maxDelete 1 by age", 5, m(3), 0, 1, 3, 3},
		{"nothing to delete: no transaction", 50, m(0), 50, 7, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			all := writeMinutes(t, s, tc.n)
			usage, _ := s.Usage(UsageQuery{GroupBy: "key"})
			before := txID(t, s)

			n, err := s.PruneTraces(tc.olderThan, tc.maxCount, tc.maxDelete)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.keepFrom {
				t.Errorf("PruneTraces deleted %d; want %d", n, tc.keepFrom)
			}
			if got := storedIDs(t, s); !slices.Equal(got, all[tc.keepFrom:]) {
				t.Errorf("%d traces left (oldest %v); want the %d newest", len(got), got[:min(1, len(got))], tc.n-tc.keepFrom)
			}
			if c := countOf(t, s); c != uint64(tc.n-tc.keepFrom) {
				t.Errorf("TraceCount = %d; want %d", c, tc.n-tc.keepFrom)
			}
			if txs := txID(t, s) - before; txs != tc.wantTxs {
				t.Errorf("%d write transactions; want %d", txs, tc.wantTxs)
			}
			if after, _ := s.Usage(UsageQuery{GroupBy: "key"}); !reflect.DeepEqual(after, usage) {
				t.Errorf("usage changed by pruning: %+v → %+v", usage, after)
			}
			if tc.keepFrom > 0 {
				if _, err := s.Trace(all[tc.keepFrom-1]); err == nil {
					t.Errorf("Trace(%s) still found after pruning", all[tc.keepFrom-1])
				}
			}
		})
	}
}

// A prune that runs while batches are written loses nothing it should
// keep and leaves the count right.
func TestPruneTracesWhileWriting(t *testing.T) {
	s := openTest(t)
	writeMinutes(t, s, 3000)
	done := make(chan error)
	go func() {
		for i := range 20 {
			var batch []*Trace
			for j := range 50 {
				batch = append(batch, tr(t0.Add(time.Duration(100000+i*50+j)*time.Minute), "key_c", "openai", "gpt-4o", 200))
			}
			if err := s.WriteTraces(batch); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	n, err := s.PruneTraces(t0.Add(3000*time.Minute), 0, 100)
	if err != nil || n != 3000 {
		t.Errorf("PruneTraces = %d, %v; want 3000", n, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c, got := countOf(t, s), len(storedIDs(t, s)); c != 1000 || got != 1000 {
		t.Errorf("TraceCount %d, %d listed; want the 1000 written meanwhile", c, got)
	}
}
