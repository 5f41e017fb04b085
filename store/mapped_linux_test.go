package store

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Writing traces for a long time does not make the database's pages
// resident in the gateway: what reads mapped is released once every
// releaseEvery bytes of traces written, and by ReleaseMapped, and the
// traces read back whole afterwards.
func TestWritingTracesKeepsTheFileOutOfResidentMemory(t *testing.T) {
	s := openTest(t)
	start := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	const batches, perBatch = 60, 500
	writeBatches(t, s, start, batches, perBatch)
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if rss := mappedKB(t, s.Path()); rss > 2*releaseEvery>>10 {
		t.Fatalf("%d KiB of the %d KiB database file resident after %d batches, want at most %d", rss, fi.Size()>>10, batches, 2*releaseEvery>>10)
	}
	s.ReleaseMapped()
	if rss := mappedKB(t, s.Path()); rss > 256 {
		t.Fatalf("%d KiB of the database file resident after ReleaseMapped, want at most 256", rss)
	}
	if n, err := s.TraceCount(); err != nil || n != batches*perBatch {
		t.Fatalf("TraceCount = %d, %v; want %d", n, err, batches*perBatch)
	}
	got, _, err := s.Traces(TraceFilter{Limit: 2})
	last := start.Add(time.Duration(batches*perBatch-1) * time.Millisecond)
	if err != nil || len(got) != 2 || got[0].RequestID != reqID(last, 0) || got[0].PromptTokens != 2150 {
		t.Fatalf("newest traces after release: %v, %+v", err, got)
	}
}

// A query that walks every trace and a prune that deletes almost all of
// them leave the file out of resident memory too: they release what they
// read as they go (before, a prune of a million traces at start-up left
// 270 MB of the file resident in the gateway).
func TestLongWalksKeepTheFileOutOfResidentMemory(t *testing.T) {
	s := openTest(t)
	start := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	const batches, perBatch = 60, 500
	writeBatches(t, s, start, batches, perBatch)
	got, _, err := s.Traces(TraceFilter{Until: start}) // walks all 30,000 (a key would go through the index)
	if err != nil || len(got) != 0 {
		t.Fatalf("query for traces before the first: %v, %d traces", err, len(got))
	}
	if rss := mappedKB(t, s.Path()); rss > 256 {
		t.Fatalf("%d KiB of the database file resident after a query walked every trace, want at most 256", rss)
	}
	n, err := s.PruneTraces(time.Time{}, 1000, 500)
	if err != nil || n != batches*perBatch-1000 {
		t.Fatalf("PruneTraces = %d, %v; want %d", n, err, batches*perBatch-1000)
	}
	if rss := mappedKB(t, s.Path()); rss > 256 {
		t.Fatalf("%d KiB of the database file resident after pruning %d traces, want at most 256", rss, n)
	}
	if got, _, err := s.Traces(TraceFilter{Limit: 5000}); err != nil || len(got) != 1000 {
		t.Fatalf("after the prune: %v, %d traces; want the newest 1000", err, len(got))
	}
}

// writeBatches stores batches × perBatch traces a millisecond apart from
// start, one batch per WriteTraces.
func writeBatches(t *testing.T, s *Store, start time.Time, batches, perBatch int) {
	t.Helper()
	for b := range batches {
		batch := make([]*Trace, perBatch)
		for i := range batch {
			batch[i] = benchTrace(start.Add(time.Duration(b*perBatch+i)*time.Millisecond), 0, benchKeys[i%len(benchKeys)], "gpt-4o")
		}
		write(t, s, batch...)
	}
}

// mappedKB is the resident size of the process's mappings of path, from
// /proc/self/smaps.
func mappedKB(t *testing.T, path string) int {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			in = len(fields) >= 6 && fields[len(fields)-1] == path
		case in && len(fields) == 3 && fields[0] == "Rss:":
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			total += kb
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}
