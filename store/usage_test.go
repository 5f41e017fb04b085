package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ut is a trace for the roll-up tests.
type ut struct {
	at                    time.Time
	key, provider, model  string
	status                int
	prompt, completion    int64
	cacheWrite, cacheRead int64
	cost                  float64
	known                 bool
	source                string
}

func (u ut) trace(seq uint16) *Trace {
	return &Trace{
		RequestID: reqID(u.at, seq), Time: u.at, KeyID: u.key, Provider: u.provider, Model: u.model, Status: u.status,
		PromptTokens: u.prompt, CompletionTokens: u.completion, CacheCreationTokens: u.cacheWrite, CacheReadTokens: u.cacheRead,
		CostUSD: u.cost, CostKnown: u.known, UsageSource: u.source,
	}
}

// Days of the roll-up tests.
var (
	day1 = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	day2 = day1.AddDate(0, 0, 1)
	day3 = day1.AddDate(0, 0, 2)
)

// writeUsageSet writes the traces whose sums the roll-up tests expect, in
// four batches (the last adds to records that already exist). Costs are
// sums of powers of two, so float sums are exact.
func writeUsageSet(t *testing.T, s *Store) {
	t.Helper()
	utc2 := time.FixedZone("UTC+2", 2*3600)
	batches := [][]ut{{
		{at: day1.Add(10 * time.Hour), key: "key_a", provider: "openai", model: "gpt-4o", status: 200,
			prompt: 1000, completion: 200, cacheRead: 400, cost: 0.5, known: true, source: "response"},
		// the last millisecond of day 1
		{at: day2.Add(-time.Millisecond), key: "key_a", provider: "openai", model: "gpt-4o", status: 200,
			prompt: 2000, completion: 100, cost: 0.25, known: true, source: "response"},
		// 01:00 on day 2 in UTC+2 is 23:00 on day 1 in UTC
		{at: time.Date(2030, 6, 2, 1, 0, 0, 0, utc2), key: "key_b", provider: "anthropic", model: "claude-sonnet-4-5", status: 200,
			prompt: 3000, completion: 300, cacheWrite: 1000, cacheRead: 1500, cost: 0.125, known: true, source: "response"},
	}, {
		// midnight: day 2. A 500 without usage: an error, not an unknown cost.
		{at: day2, key: "key_a", provider: "openai", model: "gpt-4o", status: 500, source: "none"},
		{at: day2.Add(8 * time.Hour), key: "key_b", provider: "anthropic", model: "claude-sonnet-4-5", status: 429, source: "none"},
		// usage read, no model, so no price: an unknown cost
		{at: day2.Add(9 * time.Hour), key: "key_b", provider: "openai", model: "", status: 200,
			prompt: 50, completion: 5, source: "response"},
		// no answer at all (status 0): an error
		{at: day2.Add(10 * time.Hour), key: "key_a", provider: "openai", model: "gpt-4o-mini", status: 0, source: "none"},
		// a 404 with usage but no price: an error, not an unknown cost
		{at: day2.Add(11 * time.Hour), key: "key_a", provider: "openai", model: "gpt-4o", status: 404,
			prompt: 20, source: "response"},
	}, {
		{at: day3.Add(12 * time.Hour), key: "key_c", provider: "openai", model: "gpt-4o", status: 200,
			prompt: 400, completion: 40, cost: 1, known: true, source: "response"},
		{at: day3.Add(13 * time.Hour), key: "key_a", provider: "openai", model: "gpt-4o-mini", status: 200,
			prompt: 100, completion: 10, cost: 0.0625, known: true, source: "response"},
		{at: day3.Add(14 * time.Hour), key: "key_b", provider: "openai", model: "mystery-model", status: 200,
			prompt: 10, completion: 1, source: "response"},
		// no key id: stored, not rolled up
		{at: day3.Add(15 * time.Hour), provider: "openai", model: "gpt-4o", status: 200,
			prompt: 9999, completion: 999, cost: 64, known: true, source: "response"},
	}, {
		// two more for an existing record of day 1
		{at: day1.Add(12 * time.Hour), key: "key_a", provider: "openai", model: "gpt-4o", status: 200,
			prompt: 500, completion: 50, cost: 0.5, known: true, source: "response"},
		{at: day1.Add(12*time.Hour + 30*time.Minute), key: "key_a", provider: "openai", model: "gpt-4o", status: 200,
			prompt: 500, completion: 50, cost: 0.5, known: true, source: "response"},
	}}
	for _, b := range batches {
		var batch []*Trace
		for i, u := range b {
			batch = append(batch, u.trace(uint16(i)))
		}
		write(t, s, batch...)
	}
}

// row builds a UsageRow: requests, errors, prompt, completion, cache
// creation, cache read, cost, cost unknown (and the cache-read share they
// make: TestCacheReadShare checks that function).
func row(g string, req, errs, p, c, cw, cr int64, cost float64, unk int64) UsageRow {
	return UsageRow{Group: g, Requests: req, Errors: errs, PromptTokens: p, CompletionTokens: c,
		CacheCreationTokens: cw, CacheReadTokens: cr, CostUSD: cost, CostUnknown: unk, CacheReadShare: CacheReadShare(cr, p)}
}

func TestUsage(t *testing.T) {
	s := openTest(t)
	writeUsageSet(t, s)

	tests := []struct {
		name string
		q    UsageQuery
		want []UsageRow
	}{
		{"by day (the default), date order", UsageQuery{}, []UsageRow{
			row("2030-06-01", 5, 0, 7000, 700, 1000, 1900, 1.875, 0),
			row("2030-06-02", 5, 4, 70, 5, 0, 0, 0, 1),
			row("2030-06-03", 3, 0, 510, 51, 0, 0, 1.0625, 1),
		}},
		{"by key, most expensive first", UsageQuery{GroupBy: "key"}, []UsageRow{
			row("key_a", 8, 3, 4120, 410, 0, 400, 1.8125, 0),
			row("key_c", 1, 0, 400, 40, 0, 0, 1, 0),
			row("key_b", 4, 1, 3060, 306, 1000, 1500, 0.125, 2),
		}},
		{"by model, equal costs by name", UsageQuery{GroupBy: "model"}, []UsageRow{
			row("gpt-4o", 7, 2, 4420, 440, 0, 400, 2.75, 0),
			row("claude-sonnet-4-5", 2, 1, 3000, 300, 1000, 1500, 0.125, 0),
			row("gpt-4o-mini", 2, 1, 100, 10, 0, 0, 0.0625, 0),
			row("", 1, 0, 50, 5, 0, 0, 0, 1),
			row("mystery-model", 1, 0, 10, 1, 0, 0, 0, 1),
		}},
		{"by provider", UsageQuery{GroupBy: "provider"}, []UsageRow{
			row("openai", 11, 3, 4580, 456, 0, 400, 2.8125, 2),
			row("anthropic", 2, 1, 3000, 300, 1000, 1500, 0.125, 0),
		}},
		{"one day: both bounds inclusive", UsageQuery{Since: "2030-06-02", Until: "2030-06-02"}, []UsageRow{
			row("2030-06-02", 5, 4, 70, 5, 0, 0, 0, 1),
		}},
		{"since only", UsageQuery{GroupBy: "key", Since: "2030-06-02"}, []UsageRow{
			row("key_c", 1, 0, 400, 40, 0, 0, 1, 0),
			row("key_a", 4, 3, 120, 10, 0, 0, 0.0625, 0),
			row("key_b", 3, 1, 60, 6, 0, 0, 0, 2),
		}},
		{"until only", UsageQuery{GroupBy: "model", Until: "2030-06-01"}, []UsageRow{
			row("gpt-4o", 4, 0, 4000, 400, 0, 400, 1.75, 0),
			row("claude-sonnet-4-5", 1, 0, 3000, 300, 1000, 1500, 0.125, 0),
		}},
		{"range around the data", UsageQuery{Since: "2030-05-01", Until: "2030-12-31", GroupBy: "provider"}, []UsageRow{
			row("openai", 11, 3, 4580, 456, 0, 400, 2.8125, 2),
			row("anthropic", 2, 1, 3000, 300, 1000, 1500, 0.125, 0),
		}},
		{"key filter", UsageQuery{GroupBy: "model", KeyID: "key_b"}, []UsageRow{
			row("claude-sonnet-4-5", 2, 1, 3000, 300, 1000, 1500, 0.125, 0),
			row("", 1, 0, 50, 5, 0, 0, 0, 1),
			row("mystery-model", 1, 0, 10, 1, 0, 0, 0, 1),
		}},
		{"provider filter", UsageQuery{Provider: "anthropic"}, []UsageRow{
			row("2030-06-01", 1, 0, 3000, 300, 1000, 1500, 0.125, 0),
			row("2030-06-02", 1, 1, 0, 0, 0, 0, 0, 0),
		}},
		{"model filter", UsageQuery{GroupBy: "key", Model: "gpt-4o-mini"}, []UsageRow{
			row("key_a", 2, 1, 100, 10, 0, 0, 0.0625, 0),
		}},
		{"every filter and a range", UsageQuery{GroupBy: "key", Model: "gpt-4o", Provider: "openai", KeyID: "key_c", Since: "2030-06-03"}, []UsageRow{
			row("key_c", 1, 0, 400, 40, 0, 0, 1, 0),
		}},
		{"no data in range", UsageQuery{Since: "2030-07-01"}, []UsageRow{}},
		{"filter matches nothing", UsageQuery{KeyID: "key_zzz"}, []UsageRow{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Usage(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Usage(%+v) =\n%+v\nwant\n%+v", tc.q, got, tc.want)
			}
		})
	}
}

func TestUsageRefusesBadQueries(t *testing.T) {
	s := openTest(t)
	for _, tc := range []struct {
		q     UsageQuery
		field string
	}{
		{UsageQuery{GroupBy: "week"}, "by"},
		{UsageQuery{GroupBy: "Key"}, "by"},
		{UsageQuery{Since: "2030-6-1"}, "since"},
		{UsageQuery{Since: "yesterday"}, "since"},
		{UsageQuery{Until: "2030-06-31"}, "until"},
		{UsageQuery{Until: "2030-06-01T00:00:00Z"}, "until"},
		{UsageQuery{Since: "2030-06-03", Until: "2030-06-01"}, "since"},
	} {
		got, err := s.Usage(tc.q)
		wantField(t, err, tc.field)
		if got == nil {
			t.Errorf("Usage(%+v) returned nil with its error; want an empty slice", tc.q)
		}
	}
}

func TestUsageRowJSONNames(t *testing.T) {
	b, _ := json.Marshal(row("key_a", 1, 2, 3, 4, 5, 6, 0.5, 7))
	want := `{"group":"key_a","requests":1,"errors":2,"prompt_tokens":3,"completion_tokens":4,` +
		`"cache_creation_tokens":5,"cache_read_tokens":6,"cost_usd":0.5,"cost_unknown":7,"cache_read_share":1}`
	if string(b) != want {
		t.Errorf("UsageRow JSON = %s; want %s", b, want)
	}
	s := openTest(t)
	rows, _ := s.Usage(UsageQuery{})
	if b, _ := json.Marshal(rows); string(b) != "[]" {
		t.Errorf("JSON of no usage = %s; want []", b)
	}
}

func TestKeyTotalsForDay(t *testing.T) {
	s := openTest(t)
	writeUsageSet(t, s)
	tests := []struct {
		day  string
		want map[string]DayTotals
	}{
		// tokens are prompt + completion (the prompt already counts the cache)
		{"2030-06-01", map[string]DayTotals{"key_a": {4400, 1.75}, "key_b": {3300, 0.125}}},
		{"2030-06-02", map[string]DayTotals{"key_a": {20, 0}, "key_b": {55, 0}}},
		{"2030-06-03", map[string]DayTotals{"key_a": {110, 0.0625}, "key_b": {11, 0}, "key_c": {440, 1}}},
		{"2030-06-04", map[string]DayTotals{}},
		{"2030-05-31", map[string]DayTotals{}},
	}
	for _, tc := range tests {
		got, err := s.KeyTotalsForDay(tc.day)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("KeyTotalsForDay(%s) = %v; want %v", tc.day, got, tc.want)
		}
	}
	for _, bad := range []string{"", "2030-06", "06/01/2030", "2030-02-30"} {
		_, err := s.KeyTotalsForDay(bad)
		wantField(t, err, "day")
	}
}

func TestUsageOddModelNames(t *testing.T) {
	s := openTest(t)
	nul := ut{at: day1, key: "key_a", provider: "openai", model: "gpt\x00evil", status: 200, prompt: 1, cost: 0.5, known: true, source: "response"}
	long := ut{at: day1, key: "key_a", provider: "openai", model: strings.Repeat("é", 400), status: 200, prompt: 2, cost: 0.25, known: true, source: "response"}
	write(t, s, nul.trace(0), long.trace(1))

	// The trace keeps the exact model.
	if got, err := s.Trace(reqID(day1, 0)); err != nil || got.Model != "gpt\x00evil" {
		t.Errorf("Trace model = %q, %v; want it unchanged", got.Model, err)
	}
	rows, err := s.Usage(UsageQuery{GroupBy: "model"})
	if err != nil {
		t.Fatal(err)
	}
	want := []UsageRow{
		row("gpt\uFFFDevil", 1, 0, 1, 0, 0, 0, 0.5, 0),
		row(strings.Repeat("é", maxRollupPart/2), 1, 0, 2, 0, 0, 0, 0.25, 0),
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("Usage by model = %+v; want the NUL replaced and the long name cut at %d bytes", rows, maxRollupPart)
	}
	// Filtering by the model as the client sent it still finds it, and the
	// key and provider are not shifted by the NUL.
	rows, _ = s.Usage(UsageQuery{GroupBy: "provider", Model: "gpt\x00evil", KeyID: "key_a"})
	if len(rows) != 1 || rows[0].Group != "openai" || rows[0].Requests != 1 {
		t.Errorf("Usage filtered by the NUL model = %+v; want one openai request", rows)
	}
}

// A roll-up key starts with the trace's UTC day, as UsageDay names it.
func TestRollupKeyDay(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 3, 1, 1, 0, 0, 0, time.FixedZone("east", 5*3600)), // still February 28 in UTC
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(12345, 6, 7, 0, 0, 0, 0, time.UTC), time.Date(-1, 6, 7, 0, 0, 0, 0, time.UTC),
	}
	for i := range 5000 {
		times = append(times, time.Unix(int64(i)*7919*60, 0))
	}
	for _, tm := range times {
		key := appendRollupKey(nil, &Trace{Time: tm, KeyID: "k", Model: "m", Provider: "p"})
		want := tm.UTC().Format(dayLayout) // the standard library's reading of the day
		if got := string(key[:bytes.IndexByte(key, 0)]); got != want || UsageDay(tm) != want {
			t.Fatalf("%v: key day %q, UsageDay %q, want %q", tm, got, UsageDay(tm), want)
		}
	}
}

// A key holder chooses the model: one key has at most MaxRollupModels
// models of its own per day and provider in the roll-ups, and later models
// are rolled up under OtherModel, so their requests, tokens and cost still
// add up. Models that already have a record keep it; another day, key or
// provider has its own allowance.
func TestRollupModelsBoundedPerKeyAndDay(t *testing.T) {
	s := openTest(t)
	seq := uint16(0)
	tr := func(at time.Time, key, provider, model string, prompt int64) *Trace {
		seq++
		return ut{at: at, key: key, provider: provider, model: model, status: 200, prompt: prompt, completion: 1,
			cost: 0.5, known: true, source: "response"}.trace(seq)
	}
	model := func(i int) string { return "m-" + strconv.Itoa(1000+i) }
	var first, second []*Trace
	for i := range 40 {
		first = append(first, tr(day1.Add(time.Hour), "key_a", "openai", model(i), 1))
	}
	first = append(first, tr(day1.Add(time.Hour), "key_a", "openai", OtherModel, 1)) // sent as such by the client
	write(t, s, first...)
	for i := range 40 {
		second = append(second, tr(day1.Add(2*time.Hour), "key_a", "openai", model(40+i), 2))
	}
	second = append(second,
		tr(day1.Add(2*time.Hour), "key_a", "openai", model(0), 100),   // has a record: keeps it
		tr(day1.Add(2*time.Hour), "key_b", "openai", model(79), 1),    // another key
		tr(day2.Add(time.Hour), "key_a", "openai", model(79), 1),      // another day
		tr(day1.Add(2*time.Hour), "key_a", "anthropic", model(79), 1), // another provider
	)
	write(t, s, second...)

	rows, err := s.Usage(UsageQuery{GroupBy: GroupByModel, Since: UsageDay(day1), Until: UsageDay(day1), KeyID: "key_a", Provider: "openai"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != MaxRollupModels+1 {
		t.Fatalf("key_a has %d roll-up models on day 1, want %d and %q", len(rows), MaxRollupModels, OtherModel)
	}
	byModel := map[string]UsageRow{}
	for _, r := range rows {
		byModel[r.Group] = r
	}
	// In order, models m-1040…m-1063 got the last 24 records; m-1064…m-1079
	// (16 requests of 2 prompt tokens) went to other, beside the client's own "other".
	if got, want := byModel[OtherModel], row(OtherModel, 17, 0, 33, 17, 0, 0, 8.5, 0); got != want {
		t.Errorf("other = %+v, want %+v", got, want)
	}
	if _, ok := byModel[model(63)]; !ok {
		t.Errorf("%s (the 64th model) has no record of its own", model(63))
	}
	if _, ok := byModel[model(64)]; ok {
		t.Errorf("%s (the 65th model) has a record of its own", model(64))
	}
	if got := byModel[model(0)]; got.Requests != 2 || got.PromptTokens != 101 {
		t.Errorf("%s = %+v, want its two requests", model(0), got)
	}
	// Totals are exact: 82 requests of key_a/openai on day 1.
	total, _ := s.Usage(UsageQuery{GroupBy: GroupByKey, Since: UsageDay(day1), Until: UsageDay(day1), Provider: "openai"})
	want := []UsageRow{row("key_a", 82, 0, 40+1+80+100, 82, 0, 0, 41, 0), row("key_b", 1, 0, 1, 1, 0, 0, 0.5, 0)}
	if !reflect.DeepEqual(total, want) {
		t.Errorf("day 1 by key = %+v, want %+v", total, want)
	}
	for _, q := range []UsageQuery{
		{GroupBy: GroupByModel, KeyID: "key_b"}, {GroupBy: GroupByModel, Since: UsageDay(day2), KeyID: "key_a"},
		{GroupBy: GroupByModel, Provider: "anthropic"},
	} {
		if rows, _ := s.Usage(q); len(rows) != 1 || rows[0].Group != model(79) {
			t.Errorf("Usage(%+v) = %+v, want %s under its own name", q, rows, model(79))
		}
	}
}
