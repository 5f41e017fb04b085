package store

import (
	"testing"
	"time"
)

// KeysLastUsed gives each key the time of its newest trace, reading no
// further back than its limit; traces of refused requests without a key
// count for nothing.
func TestKeysLastUsed(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	write(t, s,
		tr(t0, "key_a", "openai", "m", 200),
		tr(t0.Add(time.Second), "key_b", "openai", "m", 200),
		tr(t0.Add(2*time.Second), "key_a", "openai", "m", 500),
		tr(t0.Add(3*time.Second), "", "openai", "m", 401),
	)
	got, err := s.KeysLastUsed(100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["key_a"].Equal(t0.Add(2*time.Second)) || !got["key_b"].Equal(t0.Add(time.Second)) {
		t.Errorf("last used %v", got)
	}
	// Bounded: the newest two traces name only key_a.
	got, err = s.KeysLastUsed(2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got["key_a"].Equal(t0.Add(2*time.Second)) {
		t.Errorf("last used within 2 traces %v", got)
	}
}

// BenchmarkKeysLastUsed is the start-up cost of the seed over 100,000
// traces of 1,000 keys.
func BenchmarkKeysLastUsed(b *testing.B) {
	s := openTest(b)
	t0 := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	for batch := 0; batch < 100; batch++ {
		var ts []*Trace
		for i := 0; i < 1000; i++ {
			tm := t0.Add(time.Duration(batch*1000+i) * time.Millisecond)
			x := tr(tm, "key_"+string(rune('a'+i%26))+string(rune('a'+i/26%26)), "openai", "m", 200)
			ts = append(ts, x)
		}
		write(b, s, ts...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.KeysLastUsed(100_000); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzTraceTimeAndKey: the start-up scan reads what a full decode reads,
// and never panics on a damaged record.
func FuzzTraceTimeAndKey(f *testing.F) {
	f.Add(appendTrace(nil, tr(time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC), "key_a", "openai", "m", 200)))
	f.Add([]byte(`{"request_id":"r","key_id":"key_j","time":"2030-06-01T12:00:00Z"}`))
	f.Add([]byte{traceCodecV3, 0, 0, 0, 0, 0, 0, 0, 1, 200})
	f.Fuzz(func(t *testing.T, raw []byte) {
		tm, key, err := traceTimeAndKey(raw)
		var full Trace
		if decodeTrace(raw, &full) != nil {
			return // damaged: the scan may read the head of it or fail
		}
		if err != nil || string(key) != full.KeyID || !tm.Equal(full.Time) {
			t.Fatalf("scan: %v %q %v; decode: %v %q", tm, key, err, full.Time, full.KeyID)
		}
	})
}
