package store

import (
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// t0 is the time of the test traces' day: 2030-06-01 00:00 UTC.
var t0 = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)

// reqID makes a request id the way the proxy does: 48 bits of Unix
// milliseconds and a 16-bit sequence in 13 characters of base32hex, so ids
// sort by time.
func reqID(tm time.Time, seq uint16) string {
	return string(AppendRequestID(nil, tm.UnixMilli(), seq))
}

// tr is a trace at tm with the given key, provider, model and status and
// 100 prompt / 10 completion tokens costing $0.25.
func tr(tm time.Time, key, provider, model string, status int) *Trace {
	return &Trace{
		RequestID: reqID(tm, 0), Time: tm, KeyID: key, Provider: provider, Model: model, Status: status,
		Method: "POST", Path: "/v1/chat/completions", CredentialID: "cred_1",
		PromptTokens: 100, CompletionTokens: 10, CostUSD: 0.25, CostKnown: true, UsageSource: "response",
		Attempts: []Attempt{{CredentialID: "cred_1", Status: status, LatencyMS: 12.5}},
	}
}

func write(t testing.TB, s *Store, batch ...*Trace) {
	t.Helper()
	if err := s.WriteTraces(batch); err != nil {
		t.Fatalf("WriteTraces(%d traces): %v", len(batch), err)
	}
}

func ids(ts []Trace) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.RequestID
	}
	return out
}

func countOf(t testing.TB, s *Store) uint64 {
	t.Helper()
	n, err := s.TraceCount()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReqIDSortsByTime(t *testing.T) {
	a, b := reqID(t0, 65535), reqID(t0.Add(time.Millisecond), 0)
	if len(a) != 13 || a >= b {
		t.Fatalf("reqID: %q then %q; want 13 characters in time order", a, b)
	}
}

func TestTraceRoundTripsEveryField(t *testing.T) {
	s := openTest(t)
	want := Trace{
		RequestID: reqID(t0.Add(90*time.Minute), 7), Time: t0.Add(90*time.Minute + 123456789),
		KeyID: "key_A", KeyName: "web app", KeyPreview: "aigw_AbCd…", Provider: "anthropic",
		CredentialID: "cred_2", Strategy: StrategyWeighted, Method: "POST", Path: "/v1/messages?beta=true",
		Model: "claude-sonnet-4-5", Stream: true, Status: 200, LatencyMS: 1234.5, TTFBMS: 321.25,
		OverheadMS: 0.125, Retries: 2,
		Attempts: []Attempt{
			{CredentialID: "cred_1", Status: 0, Error: "dial tcp: connection refused", LatencyMS: 3.5},
			{CredentialID: "cred_3", Status: 529, Error: "overloaded <upstream> & co", LatencyMS: 80},
			{CredentialID: "cred_2", Status: 200, LatencyMS: 1150},
		},
		PromptTokens: 5100, CompletionTokens: 300, CacheCreationTokens: 2000, CacheReadTokens: 3000,
		ReasoningTokens: 120, CostUSD: 0.0421875, CostKnown: true, UsageSource: "response", BytesOut: 98765,
		Error: "",
	}
	write(t, s, &want)

	got, err := s.Trace(want.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Trace round trip:\n got %+v\nwant %+v", got, want)
	}
	// The stored value is the compact binary form, under the request id,
	// well under half the size of its JSON.
	asJSON, _ := json.Marshal(&want)
	var raw []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		raw = slices.Clone(tx.Bucket(bucketTraces).Get([]byte(want.RequestID)))
		return nil
	})
	if len(raw) == 0 || raw[0] != traceCodecV3 || 2*len(raw) > len(asJSON) {
		t.Errorf("stored value: %d bytes (JSON %d), first byte %v", len(raw), len(asJSON), raw[:min(1, len(raw))])
	}
	// Traces lists the same thing.
	list, _, err := s.Traces(TraceFilter{})
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], want) {
		t.Errorf("Traces = %+v, %v; want the one trace", list, err)
	}

	if _, err := s.Trace("038gl0c9q6skp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Trace(unknown) err = %v; want ErrNotFound", err)
	}
	if _, err := s.Trace(""); !errors.Is(err, ErrNotFound) {
		t.Errorf("Trace(\"\") err = %v; want ErrNotFound", err)
	}
}

// filterSet is the traces of the filter tests, oldest first; tests name
// them by index.
func filterSet() []*Trace {
	m := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	return []*Trace{
		0:  tr(m(0), "key_a", "openai", "gpt-4o", 200),
		1:  tr(m(1), "key_b", "openai", "gpt-4o-mini", 200),
		2:  tr(m(2), "key_a", "openai", "gpt-4o", 429),
		3:  tr(m(3), "key_c", "anthropic", "claude-sonnet-4-5", 200),
		4:  tr(m(4), "key_a", "openai", "gpt-4o-mini", 500),
		5:  tr(m(5), "key_c", "anthropic", "claude-sonnet-4-5", 529),
		6:  tr(m(6), "key_b", "openai", "gpt-4o", 401),
		7:  tr(m(7), "key_a", "openai", "", 0),
		8:  tr(m(8), "key_c", "anthropic", "claude-haiku-4-5", 200),
		9:  tr(m(9), "key_a", "openai", "gpt-4o", 502),
		10: tr(m(10), "key_b", "openai", "gpt-4o", 200),
		11: tr(m(11), "key_c", "anthropic", "claude-sonnet-4-5", 200),
	}
}

func TestTracesFilters(t *testing.T) {
	s := openTest(t)
	set := filterSet()
	write(t, s, set[:5]...) // two batches, out of order within the second
	write(t, s, set[11], set[5], set[9], set[6], set[7], set[8], set[10])
	m := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

	tests := []struct {
		name string
		f    TraceFilter
		want []int // indexes into filterSet, newest first
	}{
		{"all", TraceFilter{}, []int{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{"key", TraceFilter{KeyID: "key_a"}, []int{9, 7, 4, 2, 0}},
		{"provider", TraceFilter{Provider: "anthropic"}, []int{11, 8, 5, 3}},
		{"model", TraceFilter{Model: "gpt-4o"}, []int{10, 9, 6, 2, 0}},
		{"model is not a prefix match", TraceFilter{Model: "gpt-4"}, []int{}},
		{"status", TraceFilter{Status: 200}, []int{11, 10, 8, 3, 1, 0}},
		{"status seen only in an attempt", TraceFilter{Status: 404}, []int{}},
		{"status class 5", TraceFilter{StatusClass: 5}, []int{9, 5, 4}},
		{"status class 4", TraceFilter{StatusClass: 4}, []int{6, 2}},
		{"status class 2", TraceFilter{StatusClass: 2}, []int{11, 10, 8, 3, 1, 0}},
		{"since (inclusive)", TraceFilter{Since: m(8)}, []int{11, 10, 9, 8}},
		{"until (exclusive)", TraceFilter{Until: m(3)}, []int{2, 1, 0}},
		{"since and until", TraceFilter{Since: m(3), Until: m(6)}, []int{5, 4, 3}},
		{"since in another zone", TraceFilter{Since: m(10).In(time.FixedZone("UTC+2", 7200))}, []int{11, 10}},
		{"key and model", TraceFilter{KeyID: "key_a", Model: "gpt-4o"}, []int{9, 2, 0}},
		{"key and status class", TraceFilter{KeyID: "key_a", StatusClass: 5}, []int{9, 4}},
		{"provider, status and range", TraceFilter{Provider: "anthropic", Status: 200, Since: m(4), Until: m(11)}, []int{8}},
		{"key, provider, model, status", TraceFilter{KeyID: "key_b", Provider: "openai", Model: "gpt-4o", Status: 401}, []int{6}},
		{"status and a different class", TraceFilter{Status: 200, StatusClass: 5}, []int{}},
		{"key and provider that never meet", TraceFilter{KeyID: "key_c", Provider: "openai"}, []int{}},
		{"unknown key", TraceFilter{KeyID: "key_zzz"}, []int{}},
		{"before", TraceFilter{Before: set[6].RequestID}, []int{5, 4, 3, 2, 1, 0}},
		{"before with key", TraceFilter{Before: set[9].RequestID, KeyID: "key_a"}, []int{7, 4, 2, 0}},
		{"before an id not stored", TraceFilter{Before: reqID(m(6), 1)}, []int{6, 5, 4, 3, 2, 1, 0}},
		{"before the oldest", TraceFilter{Before: set[0].RequestID}, []int{}},
		{"before past the newest", TraceFilter{Before: "zzzzzzzzzzzzz", StatusClass: 5}, []int{9, 5, 4}},
		{"since after the newest", TraceFilter{Since: m(12)}, []int{}},
		{"limit", TraceFilter{Limit: 3, KeyID: "key_a"}, []int{9, 7, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := s.Traces(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("Traces returned nil; want an empty slice")
			}
			want := make([]string, len(tc.want))
			for i, j := range tc.want {
				want[i] = set[j].RequestID
			}
			if !slices.Equal(ids(got), want) {
				t.Errorf("Traces(%+v) =\n %v\nwant\n %v", tc.f, ids(got), want)
			}
		})
	}
}

func TestTracesEmptyIsEmptyArray(t *testing.T) {
	s := openTest(t)
	for _, f := range []TraceFilter{{}, {KeyID: "key_a"}, {Before: "038gl0c9q6skp"}} {
		got, next, err := s.Traces(f)
		if err != nil || got == nil || len(got) != 0 || next != "" {
			t.Fatalf("Traces(%+v) on an empty store = %#v, %q, %v; want [], \"\", nil", f, got, next, err)
		}
		if b, _ := json.Marshal(got); string(b) != "[]" {
			t.Errorf("JSON of an empty result = %s; want []", b)
		}
	}
}

func TestTracesRefusesBadFilters(t *testing.T) {
	s := openTest(t)
	for _, tc := range []struct {
		f     TraceFilter
		field string
	}{
		{TraceFilter{StatusClass: 6}, "status_class"},
		{TraceFilter{StatusClass: -1}, "status_class"},
		{TraceFilter{Status: -200}, "status"},
		{TraceFilter{Since: t0.Add(time.Hour), Until: t0}, "since"},
	} {
		got, _, err := s.Traces(tc.f)
		wantField(t, err, tc.field)
		if got == nil {
			t.Errorf("Traces(%+v) returned nil with its error; want an empty slice", tc.f)
		}
	}
}

// pages follows NextCursor from f until it is "" and returns every page.
func pages(t *testing.T, s *Store, f TraceFilter) [][]Trace {
	t.Helper()
	var out [][]Trace
	for range 10000 {
		got, next, err := s.Traces(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got)
		if next == "" {
			return out
		}
		if len(got) == 0 || next != got[len(got)-1].RequestID {
			t.Fatalf("page %d: NextCursor %q; want the id of its last trace", len(out), next)
		}
		f.Before = next
	}
	t.Fatal("pagination does not end")
	return nil
}

func TestTracesPagination(t *testing.T) {
	s := openTest(t)
	var all []*Trace
	keys := []string{"key_a", "key_b", "key_c"}
	for i := range 250 {
		// several traces per millisecond: ids differ only by the sequence
		tm := t0.Add(time.Duration(i/4) * time.Millisecond)
		tc := tr(tm, keys[i%3], "openai", "gpt-4o", 200)
		tc.RequestID = reqID(tm, uint16(i))
		all = append(all, tc)
	}
	write(t, s, all[:100]...)
	write(t, s, all[100:]...)

	tests := []struct {
		name      string
		f         TraceFilter
		want      func(*Trace) bool
		wantPages int
	}{
		{"every trace, pages of 7", TraceFilter{Limit: 7}, func(*Trace) bool { return true }, 36},
		{"one key, pages of 9", TraceFilter{Limit: 9, KeyID: "key_b"}, func(t *Trace) bool { return t.KeyID == "key_b" }, 10},
		{"exact multiple: 250 in pages of 50", TraceFilter{Limit: 50}, func(*Trace) bool { return true }, 5},
		{"one page", TraceFilter{Limit: 1000}, func(*Trace) bool { return true }, 1},
		{"nothing matches", TraceFilter{Limit: 10, Model: "none"}, func(*Trace) bool { return false }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for i := len(all) - 1; i >= 0; i-- {
				if tc.want(all[i]) {
					want = append(want, all[i].RequestID)
				}
			}
			ps := pages(t, s, tc.f)
			var got []string
			for _, p := range ps {
				got = append(got, ids(p)...)
			}
			if len(ps) != tc.wantPages {
				t.Errorf("%d pages; want %d", len(ps), tc.wantPages)
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages cover %d traces; want each of %d exactly once, newest first", len(got), len(want))
			}
		})
	}
}

func TestTracesLimitDefaultAndCap(t *testing.T) {
	s := openTest(t)
	batch := make([]*Trace, 10050)
	for i := range batch {
		tm := t0.Add(time.Duration(i) * time.Millisecond)
		batch[i] = tr(tm, "key_a", "openai", "gpt-4o", 200)
	}
	write(t, s, batch...)
	for _, tc := range []struct{ limit, want int }{{0, 100}, {-5, 100}, {1, 1}, {10000, 10000}, {20000, 10000}} {
		got, next, err := s.Traces(TraceFilter{Limit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.want || next != got[len(got)-1].RequestID {
			t.Errorf("Limit %d: %d traces, next %q; want %d and a cursor", tc.limit, len(got), next, tc.want)
		}
		if got[0].RequestID != batch[len(batch)-1].RequestID {
			t.Errorf("Limit %d: first trace %s; want the newest", tc.limit, got[0].RequestID)
		}
	}
}

func TestWriteTracesIsAllOrNothing(t *testing.T) {
	nan := tr(t0.Add(3*time.Second), "key_a", "openai", "gpt-4o", 200)
	nan.CostUSD = math.NaN()
	long := tr(t0.Add(4*time.Second), "key_a", "openai", "gpt-4o", 200)
	long.RequestID = string(make([]byte, maxRequestIDLen+1))
	tests := []struct {
		name  string
		bad   *Trace
		field string // "" for an error that is not a ValidationError
	}{
		{"empty request id", &Trace{Time: t0, KeyID: "key_a", Status: 200}, "request_id"},
		{"request id too long", long, "request_id"},
		{"nil trace", nil, "traces"},
		{"cost is NaN (cannot be encoded)", nan, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			write(t, s, tr(t0, "key_a", "openai", "gpt-4o", 200)) // already there before
			before, _ := s.Usage(UsageQuery{})
			batch := []*Trace{
				tr(t0.Add(time.Second), "key_a", "openai", "gpt-4o", 200),
				tc.bad,
				tr(t0.Add(2*time.Second), "key_b", "openai", "gpt-4o", 200),
			}
			err := s.WriteTraces(batch)
			if err == nil {
				t.Fatal("WriteTraces succeeded; want an error")
			}
			if tc.field != "" {
				wantField(t, err, tc.field)
			}
			if got, _, _ := s.Traces(TraceFilter{}); len(got) != 1 {
				t.Errorf("after the failed batch %d traces are stored; want only the 1 from before", len(got))
			}
			if n := countOf(t, s); n != 1 {
				t.Errorf("TraceCount = %d; want 1", n)
			}
			if after, _ := s.Usage(UsageQuery{}); !reflect.DeepEqual(after, before) {
				t.Errorf("usage changed by a failed batch: %+v → %+v", before, after)
			}
		})
	}
}

func TestWriteTracesFirstWriteWins(t *testing.T) {
	s := openTest(t)
	a := tr(t0, "key_a", "openai", "gpt-4o", 200)
	dup := *a
	dup.Status = 500
	write(t, s, a, &dup) // the same id twice in one batch
	write(t, s, &dup)    // and again later (callers never do this)
	got, err := s.Trace(a.RequestID)
	if err != nil || got.Status != 200 {
		t.Errorf("Trace = status %d, %v; want the first write (200)", got.Status, err)
	}
	if n := countOf(t, s); n != 1 {
		t.Errorf("TraceCount = %d; want 1", n)
	}
	rows, _ := s.Usage(UsageQuery{})
	if len(rows) != 1 || rows[0].Requests != 1 || rows[0].Errors != 0 {
		t.Errorf("usage = %+v; want the request counted once", rows)
	}
	if err := s.WriteTraces(nil); err != nil {
		t.Errorf("WriteTraces(nil) = %v", err)
	}
}

func TestTraceCountFollowsWritesAndPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aigw.db")
	s, err := Open(path, testKey, Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if n := countOf(t, s); n != 0 {
		t.Fatalf("fresh store: TraceCount = %d; want 0", n)
	}
	var batch []*Trace
	for i := range 30 {
		batch = append(batch, tr(t0.Add(time.Duration(i)*time.Second), "key_a", "openai", "gpt-4o", 200))
	}
	write(t, s, batch[:1]...)
	write(t, s, batch[1:20]...)
	if n := countOf(t, s); n != 20 {
		t.Errorf("TraceCount = %d; want 20", n)
	}
	if _, err := s.PruneTraces(t0.Add(5*time.Second), 0, 0); err != nil {
		t.Fatal(err)
	}
	if n := countOf(t, s); n != 15 {
		t.Errorf("after pruning 5: TraceCount = %d; want 15", n)
	}
	write(t, s, batch[20:]...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, testKey, Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := countOf(t, s); n != 25 {
		t.Errorf("after re-opening: TraceCount = %d; want 25", n)
	}
	got, _, _ := s.Traces(TraceFilter{Limit: 1000})
	if len(got) != 25 {
		t.Errorf("after re-opening: %d traces listed; want 25", len(got))
	}
	checkIntegrity(t, s.db)
}

func TestTraceCodec(t *testing.T) {
	full := Trace{
		RequestID: "038gl0c9q6skp", Time: t0.Add(123456789), KeyID: "key_1", KeyName: "ci ünïcode", KeyPreview: "aigw_AbCd…",
		Provider: "openai", CredentialID: "cred_2", Strategy: "weighted", Method: "POST", Path: "/v1/chat/completions",
		Model: "gpt-4o", Stream: true, Status: 429, LatencyMS: 12.5, TTFBMS: 3.25, OverheadMS: 0.042, Retries: 2,
		Attempts:     []Attempt{{CredentialID: "cred_1", Status: 503, Error: "upstream answered 503", LatencyMS: 1.5}, {CredentialID: "cred_2", Status: 200, LatencyMS: 2}},
		PromptTokens: 1 << 40, CompletionTokens: 7, CacheCreationTokens: 3, CacheReadTokens: 2, ReasoningTokens: 1,
		CacheWrite5mTokens: 1, CacheWrite1hTokens: 2,
		CostUSD: 0.000123, CostKnown: true, UsageSource: "response", BytesOut: -1, Error: "x", Affinity: "metadata.user_id",
	}
	for _, want := range []Trace{full, {RequestID: "a", Time: t0, Attempts: []Attempt{}}} {
		raw := appendTrace(nil, &want)
		var got Trace
		if err := decodeTrace(raw, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("round trip: %v\n got %+v\nwant %+v", err, got, want)
		}
		if tm, err := traceTime(raw); err != nil || !tm.Equal(want.Time) {
			t.Errorf("traceTime = %v, %v", tm, err)
		}
		// Every truncation is an error, never a panic or a half trace.
		for n := range len(raw) {
			if err := decodeTrace(raw[:n], &got); err == nil {
				t.Fatalf("decoding the first %d of %d bytes succeeded", n, len(raw))
			}
		}
	}
	// Version 2 records (before the cache write split) are still read.
	v2 := full
	v2.CacheWrite5mTokens, v2.CacheWrite1hTokens = 0, 0
	raw := appendTrace(nil, &v2)
	raw = raw[:len(raw)-2] // v3's two zero varints
	raw[0] = traceCodecV2
	var old2 Trace
	if err := decodeTrace(raw, &old2); err != nil || !reflect.DeepEqual(old2, v2) {
		t.Errorf("version 2 record: %v %+v", err, old2)
	}
	// Version 1 records (before the affinity field) are still read.
	v1 := v2
	v1.Affinity = ""
	raw = appendTrace(nil, &v1)
	raw = raw[:len(raw)-3] // v2's empty affinity (its length byte), v3's two zeros
	raw[0] = traceCodecV1
	var old Trace
	if err := decodeTrace(raw, &old); err != nil || !reflect.DeepEqual(old, v1) {
		t.Errorf("version 1 record: %v %+v", err, old)
	}
	// Traces written as JSON by earlier builds are still read.
	legacy, _ := json.Marshal(&full)
	var got Trace
	if err := decodeTrace(legacy, &got); err != nil || !reflect.DeepEqual(got, full) {
		t.Errorf("legacy JSON: %v %+v", err, got)
	}
}

func FuzzDecodeTrace(f *testing.F) {
	f.Add(appendTrace(nil, &Trace{RequestID: "x", Attempts: []Attempt{{CredentialID: "c"}}}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var tr Trace
		err := decodeTrace(raw, &tr) // no panic, no huge allocation
		_, _ = traceTime(raw)
		// What retention reads of a trace agrees with the whole decode.
		key, provider, model, status, ok := indexedOf(raw)
		if err == nil && len(raw) > 0 && raw[0] != '{' && !ok {
			t.Fatalf("indexedOf refused a trace decodeTrace reads")
		}
		if err == nil && ok && (string(key) != tr.KeyID || string(provider) != tr.Provider || string(model) != tr.Model || status != tr.Status) {
			t.Fatalf("indexedOf = %q %q %q %d; decodeTrace %q %q %q %d", key, provider, model, status, tr.KeyID, tr.Provider, tr.Model, tr.Status)
		}
	})
}

// indexedOf reads a stored trace's key, provider, model and status as
// decodeTrace does, and never a wrong value from a record cut short.
func TestIndexedOfReadsWhatTheIndexHolds(t *testing.T) {
	for _, tc := range []*Trace{
		tr(t0, "key_1", "openai", "gpt-4o", 200),
		tr(t0, "", "anthropic", "claude\x00x", 503),
		{RequestID: "r", Time: t0, KeyID: "k", KeyName: "name", KeyPreview: "aigw_…", Provider: "gemini", Model: strings.Repeat("m", 300), Status: -7},
	} {
		raw := appendTrace(nil, tc)
		key, provider, model, status, ok := indexedOf(raw)
		if !ok || string(key) != tc.KeyID || string(provider) != tc.Provider || string(model) != tc.Model || status != tc.Status {
			t.Errorf("indexedOf = %q %q %q %d %v; want %q %q %q %d", key, provider, model, status, ok, tc.KeyID, tc.Provider, tc.Model, tc.Status)
		}
		for n := range len(raw) {
			if k, p, m, st, ok := indexedOf(raw[:n]); ok && (string(k) != tc.KeyID || string(p) != tc.Provider || string(m) != tc.Model || st != tc.Status) {
				t.Fatalf("the first %d of %d bytes read as %q %q %q %d", n, len(raw), k, p, m, st)
			}
		}
		legacy, _ := json.Marshal(tc)
		if _, _, _, _, ok := indexedOf(legacy); ok {
			t.Errorf("indexedOf read a JSON trace")
		}
	}
}

// The writer's buffers are reused between batches: a later batch never
// changes what an earlier one stored, and a batch too large to keep the
// buffers for (over 4 MB encoded) is written like any other.
func TestWriteTracesReusesBuffersSafely(t *testing.T) {
	s := openTest(t)
	first := make([]*Trace, 50)
	for i := range first {
		first[i] = tr(t0.Add(time.Duration(i)*time.Millisecond), "key_a", "openai", "gpt-4o", 200)
		first[i].Error = "first batch"
	}
	write(t, s, first...)
	big := make([]*Trace, 300)
	for i := range big {
		big[i] = tr(t0.Add(time.Hour+time.Duration(i)*time.Millisecond), "key_b", "openai", "gpt-4o", 500)
		big[i].Error = strings.Repeat("x", 16<<10) // 300 × 16 KB: beyond what the writer keeps
	}
	write(t, s, big...)
	last := tr(t0.Add(2*time.Hour), "key_c", "openai", "gpt-4o", 200)
	write(t, s, last)
	for _, want := range []*Trace{first[0], first[49], big[0], big[299], last} {
		got, err := s.Trace(want.RequestID)
		if err != nil || got.Error != want.Error || got.KeyID != want.KeyID || got.Status != want.Status {
			t.Fatalf("trace %s: %v, key %s, status %d, error of %d bytes; want key %s, status %d, error of %d bytes",
				want.RequestID, err, got.KeyID, got.Status, len(got.Error), want.KeyID, want.Status, len(want.Error))
		}
	}
	if n := countOf(t, s); n != 351 {
		t.Errorf("TraceCount = %d; want 351", n)
	}
}
