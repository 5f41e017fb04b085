package store

import (
	"fmt"
	"testing"
	"time"
)

// benchTrace is a realistic trace: three attempts, every field set.
func benchTrace(tm time.Time, seq uint16, key, model string) *Trace {
	return &Trace{
		RequestID: reqID(tm, seq), Time: tm, KeyID: key, KeyName: "web app", KeyPreview: "aigw_AbCd…",
		Provider: "openai", CredentialID: "cred_Zx81kPq0aB3c", Strategy: StrategyRoundRobin,
		Method: "POST", Path: "/v1/chat/completions", Model: model, Stream: true, Status: 200,
		LatencyMS: 812.4, TTFBMS: 211.7, OverheadMS: 0.084, Retries: 1,
		Attempts: []Attempt{
			{CredentialID: "cred_Yq7f2LmN0cD4", Status: 429, Error: "upstream 429", LatencyMS: 40.2},
			{CredentialID: "cred_Zx81kPq0aB3c", Status: 200, LatencyMS: 772.2},
		},
		PromptTokens: 2150, CompletionTokens: 412, CacheReadTokens: 2048, ReasoningTokens: 128,
		CostUSD: 0.00912, CostKnown: true, UsageSource: "response", BytesOut: 18234,
	}
}

var benchKeys = func() []string {
	out := make([]string, 20)
	for i := range out {
		out[i] = fmt.Sprintf("key_%012d", i)
	}
	return out
}()

var benchModels = []string{"gpt-4o", "gpt-4o-mini", "o3", "gpt-4.1"}

// BenchmarkWriteTraces writes batches to a real file; every commit is an
// fsync, so small batches are slow — which is why the trace writer batches.
func BenchmarkWriteTraces(b *testing.B) {
	for _, n := range []int{1, 64, 512} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			s := openTest(b)
			batch := make([]*Trace, n)
			for i := range batch {
				batch[i] = benchTrace(t0, 0, benchKeys[i%len(benchKeys)], benchModels[i%len(benchModels)])
			}
			tm, seq, written := t0, uint16(0), 0
			b.ReportAllocs()
			for b.Loop() {
				for _, t := range batch { // fresh ids, advancing time
					seq++
					if seq == 0 {
						tm = tm.Add(time.Millisecond)
					}
					t.RequestID, t.Time = reqID(tm, seq), tm
				}
				if err := s.WriteTraces(batch); err != nil {
					b.Fatal(err)
				}
				written += n
			}
			b.ReportMetric(float64(written)/b.Elapsed().Seconds(), "traces/s")
		})
	}
}

// fillTraces stores n traces a second apart from t0, 1% of them by key_rare.
func fillTraces(b *testing.B, s *Store, n int) {
	b.Helper()
	batch := make([]*Trace, 0, 5000)
	for i := range n {
		key := benchKeys[i%len(benchKeys)]
		if i%100 == 0 {
			key = "key_rare"
		}
		tm := t0.Add(time.Duration(i) * time.Second)
		batch = append(batch, benchTrace(tm, 0, key, benchModels[i%len(benchModels)]))
		if len(batch) == cap(batch) || i == n-1 {
			write(b, s, batch...)
			batch = batch[:0]
		}
	}
}

// BenchmarkTraces queries a store of 100k traces.
func BenchmarkTraces(b *testing.B) {
	s := openTest(b)
	fillTraces(b, s, 100_000)
	for _, bc := range []struct {
		name string
		f    TraceFilter
	}{
		{"newest100", TraceFilter{Limit: 100}},
		{"newest100_rare_key", TraceFilter{Limit: 100, KeyID: "key_rare"}},
		{"newest100_last_hour", TraceFilter{Limit: 100, Since: t0.Add(100_000*time.Second - time.Hour)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got, _, err := s.Traces(bc.f)
				if err != nil || len(got) != 100 {
					b.Fatalf("Traces = %d traces, %v", len(got), err)
				}
			}
		})
	}
}

// BenchmarkUsage sums 30 days of roll-ups: 20 keys × 4 models × 2
// providers a day (4800 records).
func BenchmarkUsage(b *testing.B) {
	s := openTest(b)
	var batch []*Trace
	for d := range 30 {
		for _, key := range benchKeys {
			for mi, model := range benchModels {
				for pi, p := range []string{"openai", "azure"} {
					tm := t0.AddDate(0, 0, d).Add(time.Duration(mi*2+pi) * time.Minute)
					t := benchTrace(tm, uint16(len(batch)), key, model)
					t.Provider = p
					batch = append(batch, t)
				}
			}
		}
	}
	write(b, s, batch...)
	for _, by := range UsageGroupings {
		b.Run("by="+by, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rows, err := s.Usage(UsageQuery{GroupBy: by, Since: "2030-06-01", Until: "2030-06-30"})
				if err != nil || len(rows) == 0 {
					b.Fatalf("Usage = %d rows, %v", len(rows), err)
				}
			}
		})
	}
	b.Run("key_totals_for_day", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m, err := s.KeyTotalsForDay("2030-06-15"); err != nil || len(m) != len(benchKeys) {
				b.Fatalf("KeyTotalsForDay = %d keys, %v", len(m), err)
			}
		}
	})
}

// BenchmarkPruneTraces deletes the 10k oldest of 20k traces, 1000 per
// transaction; each round first writes 10k newer ones (not timed).
func BenchmarkPruneTraces(b *testing.B) {
	b.ReportAllocs()
	s := openTest(b)
	start := t0
	fill := func() {
		batch := make([]*Trace, 0, 10_000)
		for i := range cap(batch) {
			batch = append(batch, benchTrace(start.Add(time.Duration(i)*time.Second), 0, benchKeys[i%len(benchKeys)], "gpt-4o"))
		}
		write(b, s, batch...)
		start = start.Add(10_000 * time.Second)
	}
	fill()
	for b.Loop() {
		b.StopTimer()
		fill()
		b.StartTimer()
		if n, err := s.PruneTraces(time.Time{}, 10_000, 1000); err != nil || n != 10_000 {
			b.Fatalf("PruneTraces = %d, %v", n, err)
		}
	}
}
