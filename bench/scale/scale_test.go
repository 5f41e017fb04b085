package main

import (
	"bytes"
	"strings"
	"testing"
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
