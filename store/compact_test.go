package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// A file with 4 KiB pages (as aigw made them before) compacts into a new
// file with pageSize pages that opens with the same master key and holds
// the same configuration, traces, trace index and usage.
func TestCompactFileMovesAnOldFileToTheNewPageSize(t *testing.T) {
	smallEpochs(t)
	src := writeV0(t)
	s, err := Open(src, testKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, s)
	if _, _, err := s.CreateKey(KeyInput{Provider: "openai", Credentials: []string{f.c1.ID, f.c2.ID}}); err != nil {
		t.Fatal(err)
	}
	all := mixedTraces(t, s, 2000, 5)
	if n, err := s.PruneTraces(time.Time{}, 1500, 100); err != nil || n != 500 {
		t.Fatalf("PruneTraces = %d, %v", n, err)
	}
	all = all[500:]
	wantData, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	wantUsage, err := s.Usage(UsageQuery{GroupBy: "model"})
	if err != nil {
		t.Fatal(err)
	}
	if ps := s.db.Info().PageSize; ps != 4096 {
		t.Fatalf("source page size %d, want 4096", ps)
	}
	s.Close()

	dst := filepath.Join(t.TempDir(), "compact.db")
	if err := CompactFile(dst, src); err != nil {
		t.Fatalf("CompactFile: %v", err)
	}
	c, err := Open(dst, testKey, Options{})
	if err != nil {
		t.Fatalf("the compacted file does not open: %v", err)
	}
	defer func() {
		c.Close()
		checkDatabase(t, dst, testKey)
	}()
	if ps := c.db.Info().PageSize; ps != pageSize {
		t.Errorf("compacted page size %d, want %d", ps, pageSize)
	}
	gotData, err := c.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotData, wantData) {
		t.Errorf("configuration differs after compaction:\n got %+v\nwant %+v", gotData, wantData)
	}
	gotUsage, err := c.Usage(UsageQuery{GroupBy: "model"})
	if err != nil || !reflect.DeepEqual(gotUsage, wantUsage) {
		t.Errorf("usage after compaction %+v, %v; want %+v", gotUsage, err, wantUsage)
	}
	if n := countOf(t, c); n != uint64(len(all)) {
		t.Errorf("%d traces after compaction, want %d", n, len(all))
	}
	checkListings(t, c, all, "after compaction")
	checkTraceIndex(t, c)
	// The compacted file takes new traces like any other.
	more := mixedTracesFrom(t, c, 2000, 200, 6)
	checkListings(t, c, append(slices.Clone(all), more...), "after writing to the compacted file")
}

// CompactFile refuses a destination that exists and a source that is not
// an aigw database, and leaves no file behind when it fails.
func TestCompactFileRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t)
	src := s.Path()
	s.Close()
	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CompactFile(existing, src); err == nil {
		t.Error("CompactFile over an existing file succeeded")
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("the existing file was changed: %q", b)
	}
	foreign := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(foreign, []byte("not a database at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "out.db")
	if err := CompactFile(dst, foreign); !errors.Is(err, ErrForeign) {
		t.Errorf("CompactFile of a text file = %v, want ErrForeign", err)
	}
	if err := CompactFile(dst, filepath.Join(dir, "missing.db")); err == nil {
		t.Error("CompactFile of a missing file succeeded")
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed compaction left %s behind (%v)", dst, err)
	}
}
