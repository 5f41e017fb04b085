package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A tiny run of the traces section prints its tables: a row per size with
// the file's size and every query timed, and the retention cycles.
func TestTracesSectionPrintsTables(t *testing.T) {
	t.Setenv("SCALE_TRACES", "3000,0")
	t.Setenv("SCALE_RETAIN", "1000")
	var out bytes.Buffer
	cfg := &config{calls: 2, queries: true, out: &out, tmpDir: t.TempDir()}
	if err := runTraces(cfg); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"| traces stored | fill rate (traces/s) | DB bytes |", "\n| 0 | – | ", "\n| 3000 | ",
		"`--status 5xx`", "`usage --by model --since 30d`", "| 8 | 1000 | "} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "| 3000 |") && strings.Count(line, " / ") != 5 {
			t.Errorf("row %q: want 5 timed queries", line)
		}
	}
}

func TestSizesRefusesBadCounts(t *testing.T) {
	for _, s := range []string{"x", "-1", "1,,2", "1e9"} {
		t.Setenv("SCALE_TRACES", s)
		if _, err := sizes(); err == nil || !strings.Contains(err.Error(), "SCALE_TRACES") {
			t.Errorf("SCALE_TRACES=%q: err = %v; want one naming SCALE_TRACES", s, err)
		}
	}
}

// A tiny run of the keys section, against the binary built from this
// tree, prints a row per size with every figure measured.
func TestKeysSectionPrintsTable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the aigw binary")
	}
	bin := filepath.Join(t.TempDir(), "aigw")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/aigw").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out bytes.Buffer
	err := runKeys(context.Background(), &out, keysConfig{bin: bin, sizes: []int{1, 40}, requests: 50, changes: 3, idle: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if !strings.Contains(text, "| keys | DB size | start-up | RSS idle (of it file-backed) |") {
		t.Fatalf("no table header:\n%s", text)
	}
	for _, size := range []string{"\n| 1 | ", "\n| 40 | "} {
		i := strings.Index(text, size)
		if i < 0 {
			t.Fatalf("no row for %s:\n%s", strings.TrimSpace(size), text)
		}
		row, _, _ := strings.Cut(text[i+1:], "\n")
		// 6 timed operations (p50 / p99), none of them zero
		if n := strings.Count(row, " ms / "); n != 6 || strings.Contains(row, "| 0.00 ms / 0.00 ms") {
			t.Errorf("row %q: want 6 timed operations, all measured", row)
		}
		if strings.Contains(row, "| 0.0 MiB (") {
			t.Errorf("row %q: an RSS of 0", row)
		}
	}
}
