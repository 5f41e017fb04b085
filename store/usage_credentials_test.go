package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestCacheReadShare(t *testing.T) {
	for _, tc := range []struct {
		read, prompt int64
		want         float64
	}{
		{0, 0, 0},
		{0, 1000, 0},
		{5, 0, 0}, // cached tokens without a prompt: no share to speak of
		{500, 1000, 0.5},
		{1, 3, 0.3333},
		{2, 3, 0.6667},
		{9999, 10000, 0.9999},
		{1000, 1000, 1},
		{1500, 1000, 1}, // an upstream that over-reports its cache
		{-5, 100, 0},
	} {
		if got := CacheReadShare(tc.read, tc.prompt); got != tc.want {
			t.Errorf("CacheReadShare(%d, %d) = %v; want %v", tc.read, tc.prompt, got, tc.want)
		}
	}
}

// ct is a trace for the credential roll-up tests.
type ct struct {
	at                            time.Time
	key, cred, provider           string
	status                        int
	prompt, cacheWrite, cacheRead int64
	cost                          float64
}

// trace is c as a trace; one with a prompt answered 10 completion tokens.
func (c ct) trace(seq uint16) *Trace {
	var completion int64
	if c.prompt > 0 {
		completion = 10
	}
	return &Trace{RequestID: reqID(c.at, seq), Time: c.at, KeyID: c.key, CredentialID: c.cred, Provider: c.provider,
		Model: "m", Status: c.status, PromptTokens: c.prompt, CompletionTokens: completion, CacheCreationTokens: c.cacheWrite,
		CacheReadTokens: c.cacheRead, CostUSD: c.cost, CostKnown: true, UsageSource: "response"}
}

// Two credentials behind two keys, with cache reads, over two days and in
// two batches (the second adds to records that exist): the credential
// roll-ups give each credential its own sums and cache-read share, and
// requests that reached no credential are counted under "".
func TestUsageByCredential(t *testing.T) {
	s := openTest(t)
	batches := [][]ct{{
		// Anthropic: the prompt counts input + cache writes + cache reads.
		{at: day1.Add(time.Hour), key: "key_a", cred: "cred_anth", provider: "anthropic", status: 200, prompt: 1000, cacheWrite: 1000, cost: 0.5},
		{at: day1.Add(2 * time.Hour), key: "key_a", cred: "cred_anth", provider: "anthropic", status: 200, prompt: 1000, cacheRead: 900, cost: 0.25},
		{at: day1.Add(3 * time.Hour), key: "key_b", cred: "cred_oai", provider: "openai", status: 200, prompt: 4000, cacheRead: 1000, cost: 0.125},
		// Refused before any credential (a limit): counted, under "".
		{at: day1.Add(4 * time.Hour), key: "key_b", provider: "openai", status: 429},
		// No key (an unknown gateway key): not rolled up at all.
		{at: day1.Add(5 * time.Hour), provider: "openai", status: 401},
	}, {
		{at: day1.Add(6 * time.Hour), key: "key_a", cred: "cred_anth", provider: "anthropic", status: 200, prompt: 1000, cacheRead: 900, cost: 0.25},
		{at: day2.Add(time.Hour), key: "key_b", cred: "cred_oai", provider: "openai", status: 200, prompt: 1000, cost: 1},
		{at: day2.Add(2 * time.Hour), key: "key_b", cred: "cred_oai", provider: "openai", status: 502},
	}}
	for _, b := range batches {
		var batch []*Trace
		for i, c := range b {
			batch = append(batch, c.trace(uint16(i)))
		}
		write(t, s, batch...)
	}

	share := func(r UsageRow) float64 { return r.CacheReadShare }
	tests := []struct {
		name string
		q    UsageQuery
		want []UsageRow
	}{
		{"by credential, most expensive first", UsageQuery{GroupBy: "credential"}, []UsageRow{
			row("cred_oai", 3, 1, 5000, 20, 0, 1000, 1.125, 0),
			row("cred_anth", 3, 0, 3000, 30, 1000, 1800, 1, 0),
			row("", 1, 1, 0, 0, 0, 0, 0, 0),
		}},
		{"one day", UsageQuery{GroupBy: "credential", Since: "2030-06-01", Until: "2030-06-01"}, []UsageRow{
			row("cred_anth", 3, 0, 3000, 30, 1000, 1800, 1, 0),
			row("cred_oai", 1, 0, 4000, 10, 0, 1000, 0.125, 0),
			row("", 1, 1, 0, 0, 0, 0, 0, 0),
		}},
		{"since the second day", UsageQuery{GroupBy: "credential", Since: "2030-06-02"}, []UsageRow{
			row("cred_oai", 2, 1, 1000, 10, 0, 0, 1, 0),
		}},
		{"provider filter", UsageQuery{GroupBy: "credential", Provider: "anthropic"}, []UsageRow{
			row("cred_anth", 3, 0, 3000, 30, 1000, 1800, 1, 0),
		}},
		{"by key: the same share per key", UsageQuery{GroupBy: "key"}, []UsageRow{
			row("key_b", 4, 2, 5000, 20, 0, 1000, 1.125, 0),
			row("key_a", 3, 0, 3000, 30, 1000, 1800, 1, 0),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Usage(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Usage(%+v) =\n%+v\nwant\n%+v", tc.q, got, tc.want)
			}
		})
	}

	// The shares themselves, as a user reads them: 1800 of cred_anth's 3000
	// prompt tokens came from the cache, 1000 of cred_oai's 5000.
	rows, _ := s.Usage(UsageQuery{GroupBy: "credential"})
	if share(rows[0]) != 0.2 || share(rows[1]) != 0.6 || share(rows[2]) != 0 {
		t.Errorf("shares = %v, %v, %v; want 0.2 (cred_oai), 0.6 (cred_anth), 0 (no credential)", share(rows[0]), share(rows[1]), share(rows[2]))
	}
	b, _ := json.Marshal(rows[1])
	if !strings.Contains(string(b), `"group":"cred_anth"`) || !strings.Contains(string(b), `"cache_read_share":0.6`) {
		t.Errorf("JSON row = %s", b)
	}

	// Both roll-ups count the same requests.
	var byKey, byCred UsageRow
	keys, _ := s.Usage(UsageQuery{GroupBy: "key"})
	for i := range keys {
		byKey.Add(&keys[i])
	}
	for i := range rows {
		byCred.Add(&rows[i])
	}
	if byKey != byCred {
		t.Errorf("totals by key %+v != totals by credential %+v", byKey, byCred)
	}

	// The credential roll-ups know no key and no model.
	for _, q := range []UsageQuery{{GroupBy: "credential", KeyID: "key_a"}, {GroupBy: "credential", Model: "m"}} {
		got, err := s.Usage(q)
		wantField(t, err, map[bool]string{true: "key", false: "model"}[q.KeyID != ""])
		if got == nil || len(got) != 0 {
			t.Errorf("Usage(%+v) = %v with its error; want an empty slice", q, got)
		}
	}
}

// A credential id is bounded and cannot break the roll-up key.
func TestCredentialRollupOddIDs(t *testing.T) {
	s := openTest(t)
	long := strings.Repeat("c", 1000)
	write(t, s,
		ct{at: day1, key: "key_a", cred: "cred\x00x", provider: "openai", status: 200, prompt: 10, cacheRead: 5}.trace(0),
		ct{at: day1, key: "key_a", cred: long, provider: "openai", status: 200, prompt: 10}.trace(1),
	)
	rows, err := s.Usage(UsageQuery{GroupBy: "credential"})
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]UsageRow{}
	for _, r := range rows {
		groups[r.Group] = r
	}
	if r, ok := groups["cred\uFFFDx"]; !ok || r.CacheReadShare != 0.5 {
		t.Errorf("NUL in a credential id: rows %+v", rows)
	}
	if _, ok := groups[long[:maxRollupPart]]; !ok || len(rows) != 2 {
		t.Errorf("long credential id not cut to %d bytes: %d rows", maxRollupPart, len(rows))
	}
}

// A database of the first release (schema v1) opens with its key roll-ups
// intact, summed over keys into the model roll-ups (v8), and gains empty
// credential roll-ups, which count from the upgrade on.
func TestMigrateV1ToV2(t *testing.T) {
	old := ct{at: day1, key: "key_a", cred: "cred_a", provider: "openai", status: 200, prompt: 100, cacheRead: 50, cost: 0.5}
	path := writeV1(t, func(tx *bolt.Tx) error {
		rec := UsageRow{}
		rec.addTrace(old.trace(0))
		return tx.Bucket(bucketUsage).Put(appendRollupKey(nil, old.trace(0)), appendUsageRec(nil, &rec))
	})
	s, err := Open(path, testKey, Options{})
	if err != nil {
		t.Fatalf("Open of a v1 file: %v", err)
	}
	defer func() {
		s.Close()
		checkDatabase(t, path, testKey)
	}()
	if v, _ := s.SchemaVersion(); v != LatestSchema {
		t.Fatalf("schema v%d after the upgrade; want v%d", v, LatestSchema)
	}
	if p := dbProvider(t, s.db, "openai"); p.BaseURL != "https://api.openai.com" {
		t.Errorf("provider after the upgrade: %+v", p)
	}
	keys, _ := s.Usage(UsageQuery{GroupBy: "key"})
	if want := []UsageRow{row("key_a", 1, 0, 100, 10, 0, 50, 0.5, 0)}; !reflect.DeepEqual(keys, want) {
		t.Errorf("key roll-ups after the upgrade = %+v; want %+v", keys, want)
	}
	// v8 summed them over keys: a query without a key reads those.
	models, _ := s.Usage(UsageQuery{GroupBy: "model"})
	if want := []UsageRow{row("m", 1, 0, 100, 10, 0, 50, 0.5, 0)}; !reflect.DeepEqual(models, want) {
		t.Errorf("model roll-ups after the upgrade = %+v; want %+v", models, want)
	}
	if creds, err := s.Usage(UsageQuery{GroupBy: "credential"}); err != nil || len(creds) != 0 {
		t.Errorf("credential roll-ups of a v1 file = %+v, %v; want none", creds, err)
	}
	next := old
	next.at = day2
	write(t, s, next.trace(0))
	creds, _ := s.Usage(UsageQuery{GroupBy: "credential"})
	if want := []UsageRow{row("cred_a", 1, 0, 100, 10, 0, 50, 0.5, 0)}; !reflect.DeepEqual(creds, want) {
		t.Errorf("credential roll-ups after one new request = %+v; want %+v", creds, want)
	}
}
