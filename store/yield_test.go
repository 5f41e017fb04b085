package store

import (
	"path/filepath"
	"testing"
	"time"
)

// A batch of traces is written in slices: Options.Yield is called every
// YieldEvery traces while it is encoded and stored (the gateway parks the
// writer there so that requests on the same core are not held up), and
// every trace is stored all the same.
func TestWriteTracesYieldsBetweenSlices(t *testing.T) {
	yields := 0
	s, err := Open(filepath.Join(t.TempDir(), "aigw.db"), testKey, Options{LockTimeout: time.Second, Yield: func() { yields++ }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 5*YieldEvery + 1
	batch := make([]*Trace, n)
	start := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for i := range batch {
		batch[i] = benchTrace(start.Add(time.Duration(i)*time.Millisecond), 0, benchKeys[i%len(benchKeys)], "gpt-4o")
	}
	if err := s.WriteTraces(batch); err != nil {
		t.Fatal(err)
	}
	if want := 2 * 5; yields != want { // 5 while encoding, 5 while storing
		t.Errorf("%d yields for a batch of %d; want %d", yields, n, want)
	}
	if got, _, err := s.Traces(TraceFilter{Limit: 10000}); err != nil || len(got) != n {
		t.Fatalf("%d traces stored (%v); want %d", len(got), err, n)
	}
}
